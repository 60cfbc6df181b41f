"""Loading TOML scenarios (declarative, never executing code), and choosing a file's loader.

A TOML scenario is checked completely before anything runs: every table,
field, type, page, CPU, km type, variable, interrupt and queue.  The first
problem is reported as one sentence naming the file, the line where it can
be found, and the rule (a :class:`~highmem.errors.HighmemError`).

A Python scenario (``path/to/file.py`` or ``package.module:function``) is
:mod:`highmem.scenarios.pyscenario`'s, imported only when the user names one.
The bounds every scenario is held to are in :mod:`highmem.scenarios.limits`.
"""

from __future__ import annotations

import re

from highmem.errors import HighmemError
from highmem.hw.physmem import PAGE_SIZE, Zone
from highmem.kernel.config import parse_size
from highmem.kernel.kmap_types import KM_TYPE_VARIANTS, km_type_label, unknown_km_type_message
from highmem.scenarios.limits import (
    MAX_ACCESS,
    MAX_NESTING,
    MAX_SCENARIO_BYTES,
    MAX_STEPS,
    check_moved,
    static_steps,
)
from highmem.scenarios.model import ContextSpec, ExpectSpec, PageSpec, Scenario
from highmem.scenarios.names import check_name, name_from_stem
from highmem.scenarios.ops import OP_FIELDS, to_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

# pathlib, tomllib and hashlib are not imported here: a built-in scenario needs none of them (its
# parsed form is cached, see highmem.scenarios.parsed), and together they cost most of a
# ``python -c pass``. User files import pathlib and tomllib where they are read.

__all__ = ["load_toml", "load_toml_text", "load_scenario_file"]

_TOP = {"scenario", "machine", "pages", "task", "irq", "softirq", "expect", "device", "expect_block"}
_DEVICE_KEYS = {"name": str, "blocks": int, "block_size": int, "bounce_pfn": int, "irq": str, "cpu": int,
                "data": dict, "alloc_fails": bool, "read_km_type": str}
_SCENARIO_KEYS = {"name", "description", "reference", "expect", "max_steps"}
_MACHINE_KEYS = {"profile", "cpus", "nr_cpus", "memory", "pae", "km_types", "config", "last_pkmap", "cpu_has_nx"}
_CTX_KEYS = {"task": {"name", "cpu", "ops"}, "irq": {"name", "cpu", "ops", "max", "sa_interrupt"},
             "softirq": {"name", "cpu", "ops", "max"}}
_ZONES = {"highmem": Zone.ZONE_HIGHMEM, "normal": Zone.ZONE_NORMAL, "dma": Zone.ZONE_DMA}
_INT_FIELDS = {"offset", "repeat", "size", "dst_offset", "src_offset", "cpu", "steps", "count"}
_STR_FIELDS = {"page", "type", "as", "flags", "queue", "irq", "softirq", "completion", "device", "rw", "bh",
               "lock"}
_INT_FIELDS_EXTRA = {"block"}
_ADDR_FIELDS = {"addr", "dst", "src"}
_KIND_TEXT = {"addr": "an address", "bh": "a buffer_head", "flags": "saved flags"}
#: String fields of operations that name something (checked as names; see highmem.scenarios.names).
_NAME_FIELDS = _STR_FIELDS - {"type", "rw"}


class _Lines:
    """Finds the line of the n-th ``op =`` of the k-th ``[[kind]]`` table in the raw text.

    One pass over the text indexes every table header and every ``op =``, so each look-up is
    constant time and loading stays linear in the size of the file.
    """

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        #: kind -> the 1-based line of each [[kind]] header, in order
        self.tables: dict[str, list[int]] = {}
        #: (kind, k) -> the 1-based line of each ``op =`` in that table, in order
        self.ops: dict[tuple[str, int], list[int]] = {}
        #: (section, key) -> the line of its first assignment; built on first use
        self.keys: dict[tuple[str, str], int] | None = None
        header = re.compile(r"^\s*\[\[\s*([A-Za-z0-9_-]+)\s*\]\]")
        current: tuple[str, int] | None = None
        for i, line in enumerate(self.lines):
            m = header.match(line)
            if m:
                starts = self.tables.setdefault(m.group(1), [])
                current = (m.group(1), len(starts))
                starts.append(i + 1)
                continue
            if re.match(r"^\s*\[", line):
                current = None
                continue
            if current is not None and "op" in line:
                self.ops.setdefault(current, []).extend(i + 1 for _ in re.finditer(r"\bop\s*=", line))

    def table(self, kind: str, k: int) -> int | None:
        starts = self.tables.get(kind, [])
        return starts[k] if k < len(starts) else None

    def op(self, kind: str, k: int, n: int) -> int | None:
        found = self.ops.get((kind, k), [])
        return found[n] if n < len(found) else None

    def key(self, section: str, key: str) -> int | None:
        if self.keys is None:
            self.keys = {}
            section_now = ""
            assign = re.compile(r"^([^\s=\[]+)\s*=")
            for i, line in enumerate(self.lines):
                s = line.strip()
                if s.startswith("["):
                    section_now = s.strip("[] ")
                    continue
                m = assign.match(s)
                if m:
                    self.keys.setdefault((section_now, m.group(1).strip("\"'")), i + 1)
        return self.keys.get((section, key))


class _Ctx:
    def __init__(self, where: str, lines: _Lines) -> None:
        self.where = where
        self.lines = lines
        #: (op, interrupt or softirq name) -> the CPUs it is declared on
        self.routes: dict[tuple[str, str], set[int]] = {}
        #: the km type names the profile accepts, in enum order, and what that list is (for messages)
        self.km_order: tuple[str, ...] = ()
        self.km_label = ""

    def fail(self, line: int | None, rule: str) -> HighmemError:
        loc = f"{self.where}:{line}" if line else self.where
        return HighmemError(f"{loc}: {rule}")


def load_toml(path: str | Path) -> Scenario:
    """Load and fully check the TOML scenario at ``path``."""
    from pathlib import Path

    p = Path(path)
    try:
        with open(p, "rb") as f:
            raw = f.read(MAX_SCENARIO_BYTES + 1)
        if len(raw) > MAX_SCENARIO_BYTES:
            raise HighmemError(f"scenario file {str(p)!r} is larger than the limit of {MAX_SCENARIO_BYTES} bytes")
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise HighmemError(f"scenario file {str(p)!r} does not exist: name a built-in or an existing file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise HighmemError(f"scenario file {str(p)!r} cannot be read: {e}") from None
    return load_toml_text(text, str(p))


def load_toml_text(text: str, where: str = "<scenario>") -> Scenario:
    """Parse and check scenario ``text``; ``where`` names it in errors."""
    lines = _Lines(text)
    cx = _Ctx(where, lines)
    if len(text) > MAX_SCENARIO_BYTES:
        raise cx.fail(None, f"the scenario is {len(text)} characters long, more than the limit of "
                      f"{MAX_SCENARIO_BYTES}")
    from highmem.scenarios.parsed import cached_doc

    doc = cached_doc(text)
    if doc is None:
        doc = _parse_toml(cx, text)
    for key in doc:
        if key not in _TOP:
            raise cx.fail(lines.key("", key) or _find_header(lines, key),
                          f"unknown table {key!r}: a scenario has {', '.join(sorted(_TOP))}")
    head = _table(cx, doc, "scenario")
    for key in head:
        if key not in _SCENARIO_KEYS:
            raise cx.fail(lines.key("scenario", key), f"unknown field {key!r} in [scenario]: "
                          f"allowed are {', '.join(sorted(_SCENARIO_KEYS))}")
    name = head.get("name", None)
    if name is None:
        # Path(where).stem without pathlib: the last component, less its last suffix.
        name = name_from_stem(_stem(where))
    _want(cx, lines.key("scenario", "name"), "[scenario] name", name, str)
    _name(cx, lines.key("scenario", "name"), "[scenario] name", name)
    expect_kinds = head.get("expect", [])
    if expect_kinds == "clean":
        expect_kinds = []
    if not isinstance(expect_kinds, list) or not all(isinstance(x, str) for x in expect_kinds):
        raise cx.fail(lines.key("scenario", "expect"), "[scenario] expect must be \"clean\" or a list of kinds")
    from highmem.sim.findings import FINDING_KINDS

    for kind in expect_kinds:
        if kind not in FINDING_KINDS:
            raise cx.fail(lines.key("scenario", "expect"), f"[scenario] expect names {kind!r}, which is not a "
                          f"finding kind: kinds are {', '.join(FINDING_KINDS)}")
    max_steps = head.get("max_steps", 200_000)
    _want(cx, lines.key("scenario", "max_steps"), "[scenario] max_steps", max_steps, int)
    if not 1 <= max_steps <= MAX_STEPS:
        raise cx.fail(lines.key("scenario", "max_steps"), f"[scenario] max_steps {max_steps} is out of range: "
                      f"a step budget is 1 to {MAX_STEPS}")
    machine = _table(cx, doc, "machine")
    for key, value in machine.items():
        if key not in _MACHINE_KEYS:
            raise cx.fail(lines.key("machine", key), f"unknown field {key!r} in [machine]: "
                          f"allowed are {', '.join(sorted(_MACHINE_KEYS))}")
        want = {"profile": str, "cpus": int, "nr_cpus": int, "memory": (str, int), "pae": bool,
                "km_types": str, "config": dict, "last_pkmap": int, "cpu_has_nx": bool}[key]
        _want(cx, lines.key("machine", key), f"[machine] {key}", value, want)
    if "config" in machine:
        for k, v in machine["config"].items():
            if not isinstance(v, bool | str):
                raise cx.fail(lines.key("machine", "config"), f"[machine] config {k} must be true/false or \"y\"/\"n\"")
        machine["config"] = {k: (("y" if v else "n") if isinstance(v, bool) else v)
                             for k, v in machine["config"].items()}
    sc = Scenario(name=name, description=str(head.get("description", "")), source=where,
                  reference=str(head.get("reference", "")), machine=machine, expect=list(expect_kinds),
                  max_steps=max_steps)
    try:
        cfg = sc.config()
    except HighmemError as e:
        raise cx.fail(_find_header(lines, "machine"), f"[machine]: {e}") from None
    from highmem.profiles import get_profile
    from highmem.profiles.common import KM_2_6_32

    prof = get_profile(cfg.profile)
    km_order = tuple(n for n in prof.km_type_names(cfg) if not n.startswith("__KM_FENCE"))
    km_label = km_type_label(km_order) if cfg.km_types != "2.4.22" else f"{prof.version}'s enum km_type"
    if prof.stack_slots:
        # The type argument is dropped by the preprocessor: any known name compiles.
        known = KM_TYPE_VARIANTS["2.4.22"] + KM_2_6_32 + ("KM_KDB",)
        km_order = tuple(dict.fromkeys(known + km_order))
        km_label = f"the km type names {prof.version} compiles (it ignores the argument)"
    km_names = set(km_order)
    cx.km_order, cx.km_label = km_order, km_label
    pages = _table(cx, doc, "pages")
    for pname, spec in pages.items():
        line = lines.key("pages", pname)
        _name(cx, line, "page name", pname)
        if isinstance(spec, str):
            spec = {"zone": spec}
        if not isinstance(spec, dict):
            raise cx.fail(line, f"page {pname} must be a zone name or a table with zone, data or fill")
        for k in spec:
            if k not in ("zone", "data", "fill", "pfn", "phys"):
                raise cx.fail(line, f"unknown field {k!r} of page {pname}: allowed are zone, data, fill, pfn, phys")
        pfn = _page_frame(cx, line, pname, spec)
        zone = spec.get("zone", "highmem")
        if not isinstance(zone, str) or zone not in _ZONES:
            raise cx.fail(line, f"page {pname} has zone {zone!r}: zones are highmem, normal, dma")
        data = b""
        try:
            if "fill" in spec:
                fill = to_bytes(spec["fill"], f"page {pname} fill")
                if not fill:
                    raise HighmemError(f"page {pname} fill is empty")
                data = (fill * (PAGE_SIZE // len(fill) + 1))[:PAGE_SIZE]
            if "data" in spec:
                d = to_bytes(spec["data"], f"page {pname} data")
                data = d + data[len(d):]
        except HighmemError as e:
            raise cx.fail(line, str(e)) from None
        if len(data) > PAGE_SIZE:
            raise cx.fail(line, f"page {pname} data is {len(data)} bytes: a page holds {PAGE_SIZE}")
        sc.pages.append(PageSpec(pname, _ZONES[zone], data, pfn, "zone" in spec, line))
    page_names = {p.name for p in sc.pages}
    from highmem.scenarios.model import DeviceSpec, ExpectBlockSpec

    for i, dv in enumerate(_array(cx, doc, "device")):
        line = lines.table("device", i)
        for k, v in dv.items():
            if k not in _DEVICE_KEYS:
                raise cx.fail(line, f"unknown field {k!r} in [[device]]: allowed are {', '.join(sorted(_DEVICE_KEYS))}")
            _want(cx, line, f"[[device]] {k}", v, _DEVICE_KEYS[k])
        if "name" not in dv:
            raise cx.fail(line, "[[device]] needs a name")
        _name(cx, line, "[[device]] name", dv["name"])
        _name(cx, line, f"device {dv['name']} irq", dv.get("irq", "ide0"), reserved=True)
        spec = DeviceSpec(dv["name"], dv.get("blocks", 64), dv.get("block_size", 1024), dv.get("bounce_pfn", 4095),
                          dv.get("irq", "ide0"), dv.get("cpu", 0), alloc_fails=dv.get("alloc_fails", False),
                          read_km_type=dv.get("read_km_type", "KM_BOUNCE_READ"))
        if spec.block_size not in (512, 1024, 2048, 4096) or spec.nblocks < 1:
            raise cx.fail(line, f"device {spec.name}: block_size must be 512, 1024, 2048 or 4096 and blocks >= 1")
        if not 0 <= spec.cpu < cfg.cpus:
            raise cx.fail(line, f"device {spec.name} interrupts CPU {spec.cpu}, which does not exist")
        if spec.read_km_type not in km_names:
            raise cx.fail(line, f"device {spec.name}: {unknown_km_type_message(spec.read_km_type, km_order, km_label)}")
        for blk, data in dv.get("data", {}).items():
            if not blk.isdigit() or int(blk) >= spec.nblocks:
                raise cx.fail(line, f"device {spec.name}: data key {blk!r} is not a block number below {spec.nblocks}")
            try:
                spec.data[int(blk)] = to_bytes(data, f"device {spec.name} block {blk}")
            except HighmemError as e:
                raise cx.fail(line, str(e)) from None
        if any(x.name == spec.name for x in sc.devices):
            raise cx.fail(line, f"device name {spec.name!r} is used twice")
        sc.devices.append(spec)
    devices = {d.name: d for d in sc.devices}
    declared: dict[str, set[str]] = {"irq": {d.irq for d in sc.devices}, "softirq": set()}
    for kind in ("irq", "softirq"):
        for t in _array(cx, doc, kind):
            if "name" in t and isinstance(t["name"], str):
                declared[kind].add(t["name"])
    cx.routes = {}
    for kind, opname in (("irq", "raise_irq"), ("softirq", "raise_softirq")):
        for t in _array(cx, doc, kind):
            if isinstance(t.get("name"), str) and isinstance(t.get("cpu", 0), int):
                cx.routes.setdefault((opname, t["name"]), set()).add(t.get("cpu", 0))
    for i, t in enumerate(_array(cx, doc, "irq")):
        for dev_spec in sc.devices:
            if t.get("name") == dev_spec.irq and t.get("cpu", 0) == dev_spec.cpu:
                raise cx.fail(lines.table("irq", i), f"[[irq]] {dev_spec.irq!r} on CPU {dev_spec.cpu} is device "
                              f"{dev_spec.name}'s interrupt line: give the handler another name")
    names: set[str] = set()
    for kind in ("task", "irq", "softirq"):
        for i, t in enumerate(_array(cx, doc, kind)):
            line = lines.table(kind, i)
            for k in t:
                if k not in _CTX_KEYS[kind]:
                    raise cx.fail(line, f"unknown field {k!r} in [[{kind}]]: allowed are "
                                  f"{', '.join(sorted(_CTX_KEYS[kind]))}")
            for req in ("name", "ops"):
                if req not in t:
                    raise cx.fail(line, f"[[{kind}]] needs a {req}")
            cname = t["name"]
            _want(cx, line, f"[[{kind}]] name", cname, str)
            _name(cx, line, f"[[{kind}]] name", cname, reserved=True)
            if cname in names:
                raise cx.fail(line, f"context name {cname!r} is used twice: names must be unique")
            names.add(cname)
            cpu = t.get("cpu", 0)
            _want(cx, line, f"[[{kind}]] {cname} cpu", cpu, int)
            if not 0 <= cpu < cfg.cpus:
                raise cx.fail(line, f"{kind} {cname} is on CPU {cpu}, which does not exist: the machine has "
                              f"CPUs 0 to {cfg.cpus - 1}")
            mx = t.get("max", 1 if kind == "irq" else 0)
            _want(cx, line, f"[[{kind}]] {cname} max", mx, int)
            if mx < 0:
                raise cx.fail(line, f"{kind} {cname} max must not be negative")
            sa = t.get("sa_interrupt", False)
            _want(cx, line, f"[[{kind}]] {cname} sa_interrupt", sa, bool)
            ops = t["ops"]
            if not isinstance(ops, list):
                raise cx.fail(line, f"[[{kind}]] {cname} ops must be an array of operations")
            counter = [0]
            env: dict[str, str] = {}
            _check_ops(cx, kind, i, ops, counter, env, page_names, km_names, declared, cfg.cpus, devices)
            steps = static_steps(ops)
            if steps > max_steps:
                raise cx.fail(line, f"{kind} {cname} takes at least {steps} steps, more than the step budget of "
                              f"{max_steps} ([scenario] max_steps): shorten its repeats")
            sc.contexts.append(ContextSpec(kind, cname, cpu, ops=ops, max=mx, sa_interrupt=sa, line=line))
    if not any(c.kind == "task" for c in sc.contexts):
        raise cx.fail(None, "a scenario needs at least one [[task]]")
    check_moved(cx, sc.contexts)
    for i, ex in enumerate(_array(cx, doc, "expect")):
        line = lines.table("expect", i)
        for k in ex:
            if k not in ("page", "offset", "data"):
                raise cx.fail(line, f"unknown field {k!r} in [[expect]]: allowed are page, offset, data")
        if not isinstance(ex.get("page"), str) or ex.get("page") not in page_names:
            raise cx.fail(line, f"[[expect]] names page {ex.get('page')!r}, which the scenario does not define")
        off = ex.get("offset", 0)
        _want(cx, line, "[[expect]] offset", off, int)
        try:
            data = to_bytes(ex.get("data"), "[[expect]] data")
        except HighmemError as err:
            raise cx.fail(line, str(err)) from None
        if not 0 <= off or off + len(data) > PAGE_SIZE:
            raise cx.fail(line, f"[[expect]] offset {off} with {len(data)} bytes falls outside the page")
        sc.expects.append(ExpectSpec(ex["page"], off, data))
    for i, eb in enumerate(_array(cx, doc, "expect_block")):
        line = lines.table("expect_block", i)
        for k in eb:
            if k not in ("device", "block", "offset", "data"):
                raise cx.fail(line, f"unknown field {k!r} in [[expect_block]]: allowed are device, block, offset, data")
        dev_name = eb.get("device")
        dev = devices.get(dev_name) if isinstance(dev_name, str) else None
        if dev is None:
            raise cx.fail(line, f"[[expect_block]] names device {eb.get('device')!r}, which no [[device]] declares")
        blk, off = eb.get("block"), eb.get("offset", 0)
        _want(cx, line, "[[expect_block]] block", blk, int)
        _want(cx, line, "[[expect_block]] offset", off, int)
        assert isinstance(blk, int) and isinstance(off, int)
        try:
            data = to_bytes(eb.get("data"), "[[expect_block]] data")
        except HighmemError as err:
            raise cx.fail(line, str(err)) from None
        if not 0 <= blk < dev.nblocks or off < 0 or off + len(data) > dev.block_size:
            raise cx.fail(line, f"[[expect_block]] block {blk} offset {off} is outside device {dev.name}")
        sc.expect_blocks.append(ExpectBlockSpec(dev.name, blk, off, data))
    sc.digest = sc.compute_digest()
    return sc


def _name(cx: _Ctx, line: int | None, what: str, value: Any, reserved: bool = False) -> None:
    try:
        check_name(what, value, reserved=reserved)
    except HighmemError as e:
        raise cx.fail(line, str(e)) from None


def _find_header(lines: _Lines, key: str) -> int | None:
    for i, line in enumerate(lines.lines):
        if re.match(r"^\s*\[+\s*" + re.escape(key) + r"\s*\]+", line):
            return i + 1
    return None


def _parse_toml(cx: _Ctx, text: str) -> dict[str, Any]:
    """``tomllib.loads(text)``, its errors as one sentence naming the line."""
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        raise cx.fail(int(m.group(1)) if m else None, f"TOML syntax error: {e}") from None
    except RecursionError:
        raise cx.fail(None, "its arrays or tables are nested too deeply to read (the limit of repeat nesting "
                      f"is {MAX_NESTING})") from None


def _stem(where: str) -> str:
    """``pathlib.Path(where).stem`` on POSIX: the final component without its last suffix."""
    # pathlib drops empty and "." components ("a/./b/", "."), then takes the last one left.
    parts = [p for p in where.split("/") if p not in ("", ".")]
    name = parts[-1] if parts else ""
    i = name.rfind(".")
    return name[:i] if 0 < i < len(name) - 1 else name


def _table(cx: _Ctx, doc: dict[str, Any], key: str) -> dict[str, Any]:
    v = doc.get(key, {})
    if not isinstance(v, dict):
        raise cx.fail(_find_header(cx.lines, key), f"[{key}] must be a table, written [{key}]")
    return v


def _array(cx: _Ctx, doc: dict[str, Any], key: str) -> list[dict[str, Any]]:
    v = doc.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        raise cx.fail(_find_header(cx.lines, key), f"{key} must be an array of tables, written [[{key}]]")
    return v


def _want(cx: _Ctx, line: int | None, what: str, value: Any, typ: Any) -> None:
    types = typ if isinstance(typ, tuple) else (typ,)
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if not ok:
        names = " or ".join({str: "a string", int: "an integer", bool: "true or false", dict: "a table",
                             list: "an array"}[t] for t in types)
        raise cx.fail(line, f"{what} must be {names}, not {value!r}")


def _page_frame(cx: _Ctx, line: int | None, pname: str, spec: dict[str, Any]) -> int | None:
    """The frame ``[pages]`` asks for: ``pfn`` (a frame number) or ``phys`` (a page-aligned address)."""
    if "pfn" in spec and "phys" in spec:
        raise cx.fail(line, f"page {pname} has both pfn and phys: give one")
    if "pfn" in spec:
        pfn = spec["pfn"]
        if isinstance(pfn, bool) or not isinstance(pfn, int) or not 0 <= pfn < 1 << 24:
            raise cx.fail(line, f"page {pname} pfn {pfn!r} is not a frame number: write 0 to 0xffffff (64 GiB)")
        return pfn
    if "phys" in spec:
        try:
            addr = parse_size(spec["phys"])
        except HighmemError:
            raise cx.fail(line, f"page {pname} phys {spec['phys']!r} is not an address: write e.g. \"63G\" or "
                          "0x40000000") from None
        if addr % PAGE_SIZE or not 0 <= addr < 1 << 36:
            raise cx.fail(line, f"page {pname} phys {spec['phys']!r} is not a page-aligned address below 64 GiB")
        return addr >> 12
    return None


def _check_ops(cx: _Ctx, kind: str, k: int, ops: list[Any], counter: list[int], env: dict[str, str],
               pages: set[str], km_names: set[str], declared: dict[str, set[str]], ncpu: int,
               devices: dict[str, Any], depth: int = 0) -> None:
    for op in ops:
        line = cx.lines.op(kind, k, counter[0])
        counter[0] += 1
        if not isinstance(op, dict) or "op" not in op:
            raise cx.fail(line, f"each operation must be a table with an 'op' key, not {op!r}")
        name = op["op"]
        if not isinstance(name, str) or name not in OP_FIELDS:
            raise cx.fail(line, f"unknown operation {name!r}: operations are {', '.join(sorted(OP_FIELDS))}")
        required, optional = OP_FIELDS[name]
        for f in op:
            if f != "op" and f not in required and f not in optional:
                allowed = ", ".join(sorted(required | optional)) or "no fields"
                raise cx.fail(line, f"operation {name} has unknown field {f!r}: it takes {allowed}")
        for f in required:
            if f not in op:
                raise cx.fail(line, f"operation {name} needs field {f!r}")
        for f, v in op.items():
            if f in _INT_FIELDS or f in _INT_FIELDS_EXTRA:
                _want(cx, line, f"{name} {f}", v, int)
                if v < 0:
                    raise cx.fail(line, f"{name} {f} must not be negative")
            elif f in _STR_FIELDS:
                _want(cx, line, f"{name} {f}", v, str)
                if f in _NAME_FIELDS:
                    _name(cx, line, f"{name} {f}", v)
            elif f in _ADDR_FIELDS:
                _want(cx, line, f"{name} {f}", v, (str, int))
                if isinstance(v, str) and v not in env:
                    raise cx.fail(line, f"{name} uses {f} {v!r} before any operation of this context binds it "
                                  "(with as = ...)")
                if isinstance(v, str) and env[v] != "addr":
                    raise cx.fail(line, f"{name} uses {f} {v!r}, which holds {_KIND_TEXT[env[v]]}, not an address")
            elif f in ("data", "expect"):
                try:
                    b = to_bytes(v, f"{name} {f}")
                except HighmemError as e:
                    raise cx.fail(line, str(e)) from None
                if not b:
                    raise cx.fail(line, f"{name} {f} is empty: give at least one byte")
        if name == "repeat":
            # The body first: everything below may look into it.
            if not isinstance(op["ops"], list):
                raise cx.fail(line, "repeat ops must be an array of operations")
            if depth + 1 > MAX_NESTING:
                raise cx.fail(line, f"repeat is nested {depth + 1} deep: the limit is {MAX_NESTING} levels")
            # A body that runs no time binds nothing the operations after it could use.
            body_env = env if op["count"] > 0 else dict(env)
            _check_ops(cx, kind, k, op["ops"], counter, body_env, pages, km_names, declared, ncpu, devices,
                       depth + 1)
        if "page" in op and op["page"] not in pages:
            raise cx.fail(line, f"{name} names page {op['page']!r}, which [pages] does not define")
        if "type" in op and op["type"] not in km_names:
            raise cx.fail(line, unknown_km_type_message(op["type"], cx.km_order, cx.km_label))
        if name == "load" and "size" not in op and "expect" not in op:
            raise cx.fail(line, "load needs a size or an expect")
        if name == "load" and "size" in op and op["size"] == 0:
            raise cx.fail(line, "load size must be at least 1")
        if "flags" in op and op["flags"] not in env:
            raise cx.fail(line, f"{name} uses flags {op['flags']!r} before save_flags or local_irq_save binds it")
        if "flags" in op and env[op["flags"]] != "flags":
            raise cx.fail(line, f"{name} uses flags {op['flags']!r}, which holds {_KIND_TEXT[env[op['flags']]]}, "
                          "not saved flags")
        if name == "repeat" and isinstance(op.get("ops"), list) and op["count"] > 1 and static_steps(op["ops"]) == 0:
            raise cx.fail(line, "repeat body takes no step (no operation, or work with steps = 0): it would loop "
                          "without reaching a scheduling point")
        size = op.get("size", 0)
        if name == "store":
            try:
                size = len(to_bytes(op["data"], "store data")) * op.get("repeat", 1)
            except HighmemError:
                size = 0
        if size > MAX_ACCESS:
            raise cx.fail(line, f"{name} of {size} bytes is too large: one access moves at most {MAX_ACCESS} bytes")
        if "cpu" in op and not 0 <= op["cpu"] < ncpu:
            raise cx.fail(line, f"{name} targets CPU {op['cpu']}, which does not exist")
        if name == "raise_irq" and op["irq"] in {d.irq for d in devices.values()}:
            raise cx.fail(line, f"raise_irq names {op['irq']!r}, a device's interrupt line: the device raises it "
                          "when a request completes")
        if name == "raise_irq" and op["irq"] not in declared["irq"]:
            raise cx.fail(line, f"raise_irq names interrupt {op['irq']!r}, which no [[irq]] declares")
        if name in ("raise_irq", "raise_softirq") and "cpu" in op:
            target = op["irq"] if name == "raise_irq" else op["softirq"]
            routed = cx.routes.get((name, target))
            if routed is not None and op["cpu"] not in routed:
                raise cx.fail(line, f"{name} sends {target!r} to CPU {op['cpu']}, but it is declared on CPU "
                              f"{sorted(routed)[0]}")
        if name == "store" and op.get("repeat", 1) < 1:
            raise cx.fail(line, "store repeat must be at least 1")
        if name == "load" and "size" in op and "expect" in op:
            try:
                n = len(to_bytes(op["expect"], "load expect"))
            except HighmemError:
                n = op["size"]
            if n != op["size"]:
                raise cx.fail(line, f"load size {op['size']} differs from the {n} bytes of expect: drop size or "
                              "make them agree")
        if name == "raise_softirq" and op["softirq"] not in declared["softirq"]:
            raise cx.fail(line, f"raise_softirq names softirq {op['softirq']!r}, which no [[softirq]] declares")
        if kind != "task" and name in ("schedule", "sleep", "exit"):
            pass  # legal to write: the kernel BUGs, and the checker reports it
        if name == "submit_bh":
            dev = devices.get(op["device"])
            if dev is None:
                raise cx.fail(line, f"submit_bh names device {op['device']!r}, which no [[device]] declares")
            if op["rw"].lower() not in ("read", "write"):
                raise cx.fail(line, f"submit_bh rw must be \"read\" or \"write\", not {op['rw']!r}")
            if op["block"] >= dev.nblocks:
                raise cx.fail(line, f"submit_bh block {op['block']} does not exist on {dev.name} "
                              f"(blocks 0 to {dev.nblocks - 1})")
            if op.get("offset", 0) + dev.block_size > PAGE_SIZE:
                raise cx.fail(line, f"submit_bh offset {op.get('offset', 0)} puts the {dev.block_size}-byte block "
                              "outside the page")
            env[str(op.get("as", f"bh{op['block']}"))] = "bh"
        if name == "wait_on_buffer" and op["bh"] not in env:
            raise cx.fail(line, f"wait_on_buffer uses bh {op['bh']!r} before a submit_bh binds it")
        if name == "wait_on_buffer" and env[op["bh"]] != "bh":
            raise cx.fail(line, f"wait_on_buffer uses bh {op['bh']!r}, which holds {_KIND_TEXT[env[op['bh']]]}, "
                          "not a buffer_head")
        if name in ("kmap_atomic", "kmap", "kmap_nonblock", "kmap_local_page", "page_address"):
            env[str(op.get("as", op["page"]))] = "addr"
        elif name in ("save_flags", "local_irq_save"):
            env[str(op["as"])] = "flags"


def load_scenario_file(spec: str) -> Scenario:
    """A scenario by file name: ``.toml`` or Python (``.py`` / ``module:function``)."""
    if spec.endswith(".toml"):
        return load_toml(spec)
    if spec.endswith(".py") or ":" in spec:
        from highmem.scenarios.pyscenario import load_python

        return load_python(spec)
    raise HighmemError(f"scenario {spec!r} is neither a built-in name, a .toml file, nor a Python scenario "
                       "(file.py or module:function); `highmem scenarios` lists the built-ins")
