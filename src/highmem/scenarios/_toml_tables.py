"""Checking a TOML scenario's tables, one function each, in the order the loader calls them.

Each function checks one table (``[scenario]``, ``[machine]``, ``[pages]``, ``[[device]]``, the
contexts, the expectations) and adds what it accepts to the :class:`~highmem.scenarios.model.Scenario`
being built.  The order matters: a later table is checked against what the earlier ones declared
(pages, devices, CPUs, km types, interrupts), and the first problem found is the one reported.
"""

from __future__ import annotations

from highmem.errors import HighmemError
from highmem.hw.physmem import PAGE_SIZE, Zone
from highmem.kernel.config import parse_size
from highmem.kernel.kmap_types import KM_TYPE_VARIANTS, km_type_label, unknown_km_type_message
from highmem.scenarios._toml_check import Ctx, array, find_header, stem, table, want, want_name
from highmem.scenarios._toml_ops import check_ops
from highmem.scenarios.limits import MAX_STEPS, check_moved, static_steps
from highmem.scenarios.model import ContextSpec, DeviceSpec, ExpectBlockSpec, ExpectSpec, PageSpec, Scenario
from highmem.scenarios.names import name_from_stem
from highmem.scenarios.ops import to_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from highmem.kernel.config import KernelConfig

__all__ = ["check_top_level", "check_scenario", "check_machine", "check_config", "check_pages", "check_devices",
           "check_handlers", "check_contexts", "check_expects", "check_expect_blocks"]

_TOP = {"scenario", "machine", "pages", "task", "irq", "softirq", "expect", "device", "expect_block"}
_DEVICE_KEYS = {"name": str, "blocks": int, "block_size": int, "bounce_pfn": int, "irq": str, "cpu": int,
                "data": dict, "alloc_fails": bool, "read_km_type": str}
_SCENARIO_KEYS = {"name", "description", "reference", "expect", "max_steps"}
_MACHINE_KEYS = {"profile", "cpus", "nr_cpus", "memory", "pae", "km_types", "config", "last_pkmap", "cpu_has_nx"}
_CTX_KEYS = {"task": {"name", "cpu", "ops"}, "irq": {"name", "cpu", "ops", "max", "sa_interrupt"},
             "softirq": {"name", "cpu", "ops", "max"}}
_ZONES = {"highmem": Zone.ZONE_HIGHMEM, "normal": Zone.ZONE_NORMAL, "dma": Zone.ZONE_DMA}


def check_top_level(cx: Ctx, doc: dict[str, Any]) -> None:
    """Every top-level key is one of the scenario's tables."""
    for key in doc:
        if key not in _TOP:
            raise cx.fail(cx.lines.key("", key) or find_header(cx.lines, key),
                          f"unknown table {key!r}: a scenario has {', '.join(sorted(_TOP))}")


def check_scenario(cx: Ctx, doc: dict[str, Any]) -> tuple[dict[str, Any], str, list[str], int]:
    """``[scenario]``: the table, its name (the file's stem if not given), expected kinds and step budget."""
    lines = cx.lines
    head = table(cx, doc, "scenario")
    for key in head:
        if key not in _SCENARIO_KEYS:
            raise cx.fail(lines.key("scenario", key), f"unknown field {key!r} in [scenario]: "
                          f"allowed are {', '.join(sorted(_SCENARIO_KEYS))}")
    name = head.get("name", None)
    if name is None:
        # Path(where).stem without pathlib: the last component, less its last suffix.
        name = name_from_stem(stem(cx.where))
    want(cx, lines.key("scenario", "name"), "[scenario] name", name, str)
    want_name(cx, lines.key("scenario", "name"), "[scenario] name", name)
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
    want(cx, lines.key("scenario", "max_steps"), "[scenario] max_steps", max_steps, int)
    if not 1 <= max_steps <= MAX_STEPS:
        raise cx.fail(lines.key("scenario", "max_steps"), f"[scenario] max_steps {max_steps} is out of range: "
                      f"a step budget is 1 to {MAX_STEPS}")
    return head, name, expect_kinds, max_steps


def check_machine(cx: Ctx, doc: dict[str, Any]) -> dict[str, Any]:
    """``[machine]``: its fields and their types, Kconfig values as ``"y"``/``"n"``."""
    lines = cx.lines
    machine = table(cx, doc, "machine")
    for key, value in machine.items():
        if key not in _MACHINE_KEYS:
            raise cx.fail(lines.key("machine", key), f"unknown field {key!r} in [machine]: "
                          f"allowed are {', '.join(sorted(_MACHINE_KEYS))}")
        typ = {"profile": str, "cpus": int, "nr_cpus": int, "memory": (str, int), "pae": bool,
               "km_types": str, "config": dict, "last_pkmap": int, "cpu_has_nx": bool}[key]
        want(cx, lines.key("machine", key), f"[machine] {key}", value, typ)
    if "config" in machine:
        for k, v in machine["config"].items():
            if not isinstance(v, bool | str):
                raise cx.fail(lines.key("machine", "config"), f"[machine] config {k} must be true/false or \"y\"/\"n\"")
        machine["config"] = {k: (("y" if v else "n") if isinstance(v, bool) else v)
                             for k, v in machine["config"].items()}
    return machine


def check_config(cx: Ctx, sc: Scenario) -> tuple[KernelConfig, set[str]]:
    """The kernel configuration ``[machine]`` makes, and the km type names its profile accepts.

    Sets ``cx.km_order`` and ``cx.km_label`` for the messages that name an unknown km type.
    """
    try:
        cfg = sc.config()
    except HighmemError as e:
        raise cx.fail(find_header(cx.lines, "machine"), f"[machine]: {e}") from None
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
    return cfg, km_names


def check_pages(cx: Ctx, doc: dict[str, Any], sc: Scenario) -> None:
    """``[pages]``: each page's name, zone, frame and initial bytes, into ``sc.pages``."""
    for pname, spec in table(cx, doc, "pages").items():
        line = cx.lines.key("pages", pname)
        want_name(cx, line, "page name", pname)
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


def _page_frame(cx: Ctx, line: int | None, pname: str, spec: dict[str, Any]) -> int | None:
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


def check_devices(cx: Ctx, doc: dict[str, Any], sc: Scenario, ncpu: int, km_names: set[str]) -> None:
    """``[[device]]``: each block device's geometry, interrupt, CPU, km type and blocks, into ``sc.devices``."""
    for i, dv in enumerate(array(cx, doc, "device")):
        line = cx.lines.table("device", i)
        for k, v in dv.items():
            if k not in _DEVICE_KEYS:
                raise cx.fail(line, f"unknown field {k!r} in [[device]]: allowed are {', '.join(sorted(_DEVICE_KEYS))}")
            want(cx, line, f"[[device]] {k}", v, _DEVICE_KEYS[k])
        if "name" not in dv:
            raise cx.fail(line, "[[device]] needs a name")
        want_name(cx, line, "[[device]] name", dv["name"])
        want_name(cx, line, f"device {dv['name']} irq", dv.get("irq", "ide0"), reserved=True)
        spec = DeviceSpec(dv["name"], dv.get("blocks", 64), dv.get("block_size", 1024), dv.get("bounce_pfn", 4095),
                          dv.get("irq", "ide0"), dv.get("cpu", 0), alloc_fails=dv.get("alloc_fails", False),
                          read_km_type=dv.get("read_km_type", "KM_BOUNCE_READ"))
        if spec.block_size not in (512, 1024, 2048, 4096) or spec.nblocks < 1:
            raise cx.fail(line, f"device {spec.name}: block_size must be 512, 1024, 2048 or 4096 and blocks >= 1")
        if not 0 <= spec.cpu < ncpu:
            raise cx.fail(line, f"device {spec.name} interrupts CPU {spec.cpu}, which does not exist")
        if spec.read_km_type not in km_names:
            raise cx.fail(line, f"device {spec.name}: "
                          f"{unknown_km_type_message(spec.read_km_type, cx.km_order, cx.km_label)}")
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


def check_handlers(cx: Ctx, doc: dict[str, Any], sc: Scenario) -> dict[str, set[str]]:
    """The interrupt and softirq names declared (for the raise operations), and the CPUs each is routed to.

    Sets ``cx.routes``; an ``[[irq]]`` may not take a device's interrupt line on the device's CPU.
    """
    declared: dict[str, set[str]] = {"irq": {d.irq for d in sc.devices}, "softirq": set()}
    for kind in ("irq", "softirq"):
        for t in array(cx, doc, kind):
            if "name" in t and isinstance(t["name"], str):
                declared[kind].add(t["name"])
    cx.routes = {}
    for kind, opname in (("irq", "raise_irq"), ("softirq", "raise_softirq")):
        for t in array(cx, doc, kind):
            if isinstance(t.get("name"), str) and isinstance(t.get("cpu", 0), int):
                cx.routes.setdefault((opname, t["name"]), set()).add(t.get("cpu", 0))
    for i, t in enumerate(array(cx, doc, "irq")):
        for dev_spec in sc.devices:
            if t.get("name") == dev_spec.irq and t.get("cpu", 0) == dev_spec.cpu:
                raise cx.fail(cx.lines.table("irq", i), f"[[irq]] {dev_spec.irq!r} on CPU {dev_spec.cpu} is device "
                              f"{dev_spec.name}'s interrupt line: give the handler another name")
    return declared


def check_contexts(cx: Ctx, doc: dict[str, Any], sc: Scenario, declared: dict[str, set[str]], ncpu: int,
                   km_names: set[str]) -> None:
    """``[[task]]``, ``[[irq]]``, ``[[softirq]]``: each context and its operations, into ``sc.contexts``."""
    page_names = {p.name for p in sc.pages}
    devices = {d.name: d for d in sc.devices}
    names: set[str] = set()
    for kind in ("task", "irq", "softirq"):
        for i, t in enumerate(array(cx, doc, kind)):
            line = cx.lines.table(kind, i)
            for k in t:
                if k not in _CTX_KEYS[kind]:
                    raise cx.fail(line, f"unknown field {k!r} in [[{kind}]]: allowed are "
                                  f"{', '.join(sorted(_CTX_KEYS[kind]))}")
            for req in ("name", "ops"):
                if req not in t:
                    raise cx.fail(line, f"[[{kind}]] needs a {req}")
            cname = t["name"]
            want(cx, line, f"[[{kind}]] name", cname, str)
            want_name(cx, line, f"[[{kind}]] name", cname, reserved=True)
            if cname in names:
                raise cx.fail(line, f"context name {cname!r} is used twice: names must be unique")
            names.add(cname)
            cpu = t.get("cpu", 0)
            want(cx, line, f"[[{kind}]] {cname} cpu", cpu, int)
            if not 0 <= cpu < ncpu:
                raise cx.fail(line, f"{kind} {cname} is on CPU {cpu}, which does not exist: the machine has "
                              f"CPUs 0 to {ncpu - 1}")
            mx = t.get("max", 1 if kind == "irq" else 0)
            want(cx, line, f"[[{kind}]] {cname} max", mx, int)
            if mx < 0:
                raise cx.fail(line, f"{kind} {cname} max must not be negative")
            sa = t.get("sa_interrupt", False)
            want(cx, line, f"[[{kind}]] {cname} sa_interrupt", sa, bool)
            ops = t["ops"]
            if not isinstance(ops, list):
                raise cx.fail(line, f"[[{kind}]] {cname} ops must be an array of operations")
            counter = [0]
            env: dict[str, str] = {}
            check_ops(cx, kind, i, ops, counter, env, page_names, km_names, declared, ncpu, devices)
            steps = static_steps(ops)
            if steps > sc.max_steps:
                raise cx.fail(line, f"{kind} {cname} takes at least {steps} steps, more than the step budget of "
                              f"{sc.max_steps} ([scenario] max_steps): shorten its repeats")
            sc.contexts.append(ContextSpec(kind, cname, cpu, ops=ops, max=mx, sa_interrupt=sa, line=line))
    if not any(c.kind == "task" for c in sc.contexts):
        raise cx.fail(None, "a scenario needs at least one [[task]]")
    check_moved(cx, sc.contexts)


def check_expects(cx: Ctx, doc: dict[str, Any], sc: Scenario) -> None:
    """``[[expect]]``: the bytes a page must hold at the end, into ``sc.expects``."""
    page_names = {p.name for p in sc.pages}
    for i, ex in enumerate(array(cx, doc, "expect")):
        line = cx.lines.table("expect", i)
        for k in ex:
            if k not in ("page", "offset", "data"):
                raise cx.fail(line, f"unknown field {k!r} in [[expect]]: allowed are page, offset, data")
        if not isinstance(ex.get("page"), str) or ex.get("page") not in page_names:
            raise cx.fail(line, f"[[expect]] names page {ex.get('page')!r}, which the scenario does not define")
        off = ex.get("offset", 0)
        want(cx, line, "[[expect]] offset", off, int)
        try:
            data = to_bytes(ex.get("data"), "[[expect]] data")
        except HighmemError as err:
            raise cx.fail(line, str(err)) from None
        if not 0 <= off or off + len(data) > PAGE_SIZE:
            raise cx.fail(line, f"[[expect]] offset {off} with {len(data)} bytes falls outside the page")
        sc.expects.append(ExpectSpec(ex["page"], off, data))


def check_expect_blocks(cx: Ctx, doc: dict[str, Any], sc: Scenario) -> None:
    """``[[expect_block]]``: the bytes a device block must hold at the end, into ``sc.expect_blocks``."""
    devices = {d.name: d for d in sc.devices}
    for i, eb in enumerate(array(cx, doc, "expect_block")):
        line = cx.lines.table("expect_block", i)
        for k in eb:
            if k not in ("device", "block", "offset", "data"):
                raise cx.fail(line, f"unknown field {k!r} in [[expect_block]]: allowed are device, block, offset, data")
        dev_name = eb.get("device")
        dev = devices.get(dev_name) if isinstance(dev_name, str) else None
        if dev is None:
            raise cx.fail(line, f"[[expect_block]] names device {eb.get('device')!r}, which no [[device]] declares")
        blk, off = eb.get("block"), eb.get("offset", 0)
        want(cx, line, "[[expect_block]] block", blk, int)
        want(cx, line, "[[expect_block]] offset", off, int)
        assert isinstance(blk, int) and isinstance(off, int)
        try:
            data = to_bytes(eb.get("data"), "[[expect_block]] data")
        except HighmemError as err:
            raise cx.fail(line, str(err)) from None
        if not 0 <= blk < dev.nblocks or off < 0 or off + len(data) > dev.block_size:
            raise cx.fail(line, f"[[expect_block]] block {blk} offset {off} is outside device {dev.name}")
        sc.expect_blocks.append(ExpectBlockSpec(dev.name, blk, off, data))
