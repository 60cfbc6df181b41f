"""Fuzzing the TOML scenario loader (and a short run of what it accepts).

Two generators of TOML text:

* *structured* - plausible scenario documents built from the real vocabulary (the loader's
  tables and fields, every op of ``OP_FIELDS`` with its fields, km types, profiles, Kconfig
  options), salted with junk keys, junk values of the wrong type, missing fields and nesting,
  serialized by a small handwritten TOML writer;
* *unstructured* - the built-in scenario files mutated line- and character-wise (delete,
  duplicate, swap, change a character, replace a number or a word, truncate), plus raw text.

The property, for every input: ``load_toml_text`` returns a Scenario or raises HighmemError
(whose message is one line and names the file); a scenario that loads runs 2 random schedules
(``explore``, no shrinking) without raising anything but HighmemError, and without hanging.
Inputs that hit a known src bug (see ``fuzz_support``; each pinned by an xfail test in
``test_fuzz_regressions.py``) are counted, not failed, unless ``HIGHMEM_FUZZ_STRICT=1``.

Budget: ``HIGHMEM_FUZZ_EXAMPLES`` (a percentage of the default example counts, default 100);
``derandomize=True`` so CI runs the same inputs every time.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz_support import (
    STATS,
    STRICT,
    FuzzTimeout,
    fuzz_examples,
    known_loader_bug,
    known_run_bug,
    known_run_skip,
    time_limit,
    to_toml,
)
from highmem.errors import HighmemError
from highmem.kernel.kmap_types import KM_TYPE_VARIANTS
from highmem.profiles import PROFILE_NAMES
from highmem.profiles.common import KM_2_6_32
from highmem.scenarios import load_toml_text
from highmem.scenarios.ops import OP_FIELDS
from highmem.sim.explore import explore

WHERE = "fuzz.toml"
#: step budget of every fuzzed run (scenarios may ask for less, not more): keeps each run short
RUN_MAX_STEPS = 20_000
RUN_SECONDS = 20.0

SETTINGS = settings(max_examples=fuzz_examples(1000), deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
TEXT_SETTINGS = settings(SETTINGS, max_examples=fuzz_examples(1500))

# -- vocabulary -------------------------------------------------------------------------------------
KM_TYPES = sorted(set(KM_TYPE_VARIANTS["2.4.22"]) | set(KM_2_6_32) | {"KM_KDB", "KM_TYPE_NR", "__KM_FENCE_0"})
PAGES = ["p0", "p1", "p2", "lo"]
VARS = ["v0", "v1", "f0", "bh0", "p0"]
CTX = ["t0", "t1", "t2", "eth0", "ide0", "net_rx", "hda"]
IRQS = ["eth0", "ide0", "scsi"]
SOFTIRQS = ["net_rx", "tasklet"]
QUEUES = ["q", "io", "completion:io"]
LOCKS = ["kmap_lock", "l"]
DEVICES = ["hda", "hdb"]
CONFIG = ["SMP", "DEBUG_HIGHMEM", "HIGHMEM", "X86_PAE", "PREEMPT", "X86_LOCAL_APIC", "X86_IO_APIC",
          "KUNMAP_POP_BEFORE_CLEAR", "DEBUG_KMAP_LOCAL", "CONFIG_SMP", "NOPE"]
FINDINGS = ["stale-access", "data-mismatch", "deadlock", "clean", "nope"]

INTERESTING_INTS = [0, 1, 2, 3, 4, 7, 8, 16, 31, 32, 33, 64, 511, 512, 1023, 1024, 4095, 4096, 4097, 65535,
                    2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**63 - 1, -1, -2, -4096, -(2**31), -(2**63),
                    0xC0000000, 0xFFFF2000, 0xFFFFF000, 0x08048000]

small_ints = st.integers(0, 8)
any_ints = st.one_of(st.integers(-3, 40), st.sampled_from(INTERESTING_INTS))
short_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
scalars = st.one_of(any_ints, short_text, st.booleans(), st.floats(allow_nan=True), st.just(""))
junk = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(short_text, inner, max_size=3)),
                    max_leaves=6)


class Gen:
    """What one generated document knows: its junk rate and the names it defines."""

    def __init__(self, draw: Any, rate: int) -> None:
        self.draw = draw
        #: 0: no junk at all; n: about one value in n+1 is junk
        self.rate = rate
        self.pages: list[str] = []
        self.irqs: list[str] = []
        self.softirqs: list[str] = []
        self.devices: list[str] = []
        self.cpus = 2
        self.km_types = KM_TYPES

    def junky(self, n: int = 1) -> bool:
        # Hypothesis favours small draws, so the rare junk case sits at the top of the range.
        return self.rate > 0 and self.draw(st.integers(0, self.rate * n)) == self.rate * n

    def value(self, good: st.SearchStrategy[Any]) -> Any:
        """Mostly a draw of ``good``; at the document's junk rate, anything at all."""
        return self.draw(junk) if self.junky() else self.draw(good)

    def salt(self, d: dict[str, Any]) -> dict[str, Any]:
        """At the junk rate: add an unknown key, drop a key, or give a key the wrong type."""
        if self.junky(2):
            d[self.draw(st.one_of(short_text, st.sampled_from(["nmae", "opps", "cpus", "type", "Op"])))] = \
                self.draw(junk)
        if self.junky(2) and d:
            del d[self.draw(st.sampled_from(sorted(d)))]
        if self.junky(2) and d:
            d[self.draw(st.sampled_from(sorted(d)))] = self.draw(junk)
        return d


def field_values(g: Gen, f: str) -> st.SearchStrategy[Any]:
    """Values for op field ``f``: names the document defines, plus a few it does not."""
    pages = g.pages or PAGES
    table: dict[str, st.SearchStrategy[Any]] = {
        "page": st.sampled_from(pages + ["nope"]) if g.rate else st.sampled_from(pages),
        "type": st.sampled_from(g.km_types),
        "as": st.sampled_from(VARS),
        "addr": st.one_of(st.sampled_from(VARS), st.sampled_from(VARS), any_ints),
        "dst": st.one_of(st.sampled_from(VARS), any_ints),
        "src": st.one_of(st.sampled_from(VARS), any_ints),
        "data": st.one_of(st.text(min_size=1, max_size=8), st.lists(st.integers(-1, 300), max_size=6)),
        "expect": st.one_of(st.text(min_size=1, max_size=8), st.lists(st.integers(0, 255), max_size=6)),
        "offset": any_ints, "dst_offset": any_ints, "src_offset": any_ints,
        "repeat": st.one_of(st.integers(1, 4), any_ints), "size": st.one_of(st.integers(1, 64), any_ints),
        "flags": st.sampled_from(VARS),
        "queue": st.sampled_from(QUEUES), "completion": st.sampled_from(QUEUES), "lock": st.sampled_from(LOCKS),
        "irq": st.sampled_from((g.irqs or IRQS) + ["nope"]),
        "softirq": st.sampled_from((g.softirqs or SOFTIRQS) + ["nope"]),
        "cpu": st.one_of(st.integers(0, g.cpus - 1), any_ints),
        "steps": st.one_of(small_ints, any_ints),
        "count": st.one_of(st.integers(0, 4), any_ints),
        "device": st.sampled_from((g.devices or DEVICES) + ["nope"]),
        "rw": st.sampled_from(["read", "write", "READ", "rw", ""]),
        "block": st.one_of(small_ints, any_ints),
        "bh": st.sampled_from(VARS),
    }
    return table[f]


def random_op(g: Gen, depth: int) -> Any:
    draw = g.draw
    if g.junky(4):
        return draw(junk)  # not even a table
    name = draw(st.sampled_from(sorted(OP_FIELDS)))
    required, optional = OP_FIELDS[name]
    op: dict[str, Any] = {"op": name}
    for f in sorted(required) + [f for f in sorted(optional) if draw(st.booleans())]:
        if f == "ops":
            op[f] = ops_list(g, depth + 1) if depth < 2 else []
        else:
            op[f] = g.value(field_values(g, f))
    if g.junky(3):
        op["op"] = draw(st.one_of(st.sampled_from(["kmap_atomc", "nop", ""]), junk))
    return g.salt(op)


def snippet(g: Gen, kind: str) -> list[Any]:
    """A coherent run of operations (a map-use-unmap, an interrupt-off window, a completion, ...)."""
    draw = g.draw
    v = draw(st.sampled_from(VARS[:2]))
    page = draw(st.sampled_from(g.pages or PAGES))
    t = draw(st.sampled_from(g.km_types))
    which = draw(st.integers(0, 7))
    if which == 0:
        body = [{"op": "kmap_atomic", "page": page, "type": t, "as": v},
                {"op": "store", "addr": v, "data": draw(st.text(min_size=1, max_size=6)),
                 "offset": draw(st.integers(0, 4100))},
                {"op": "load", "addr": v, "size": draw(st.integers(1, 16))}]
        if draw(st.integers(0, 5)) < 5:
            body.append({"op": "kunmap_atomic", "addr": v, "type": draw(st.sampled_from([t, t, t, "KM_USER1"]))})
        return body
    if which == 1:
        return [{"op": draw(st.sampled_from(["save_flags", "local_irq_save"])), "as": "f0"}, {"op": "cli"},
                *snippet(g, kind), {"op": draw(st.sampled_from(["restore_flags", "local_irq_restore"])),
                                    "flags": "f0"}]
    if which == 2:
        c = draw(st.sampled_from(QUEUES))
        return [{"op": draw(st.sampled_from(["complete", "wait_for_completion"])), "completion": c}]
    if which == 3:
        return [{"op": "kmap", "page": page, "as": v}, {"op": "load", "addr": v, "size": 2},
                {"op": "kunmap", "page": page}]
    if which == 4 and g.devices:
        return [{"op": "submit_bh", "device": g.devices[0], "rw": draw(st.sampled_from(["read", "write"])),
                 "page": page, "block": draw(st.integers(0, 3)), "as": "bh0"},
                {"op": "wait_on_buffer", "bh": "bh0"}]
    if which == 5:
        return [{"op": "kmap_local_page", "page": page, "as": v}, {"op": "load", "addr": v, "size": 1},
                {"op": "kunmap_local", "addr": v}]
    if which == 6:
        return [{"op": "repeat", "count": draw(st.integers(0, 3)), "ops": snippet(g, kind)}]
    name = draw(st.sampled_from(["work", "schedule", "local_bh_disable", "local_bh_enable", "flush_tlb_all"]))
    return [{"op": name, **({"steps": draw(st.integers(0, 5))} if name == "work" and draw(st.booleans()) else {})}]


def ops_list(g: Gen, depth: int = 0, kind: str = "task") -> list[Any]:
    out: list[Any] = []
    for _ in range(g.draw(st.integers(0, 5 if depth == 0 else 2))):
        if g.draw(st.booleans()):
            out.extend(snippet(g, kind))
        else:
            out.append(random_op(g, depth))
    return out


def context(g: Gen, kind: str, i: int) -> dict[str, Any]:
    draw = g.draw
    names = {"task": ["t0", "t1", "t2"], "irq": g.irqs or IRQS, "softirq": g.softirqs or SOFTIRQS}[kind]
    c: dict[str, Any] = {"name": g.value(st.just(names[i % len(names)])),
                         "cpu": g.value(st.integers(0, g.cpus - 1)), "ops": ops_list(g, 0, kind)}
    if kind != "task" and draw(st.booleans()):
        c["max"] = g.value(st.integers(0, 3))
    if kind == "irq" and draw(st.booleans()):
        c["sa_interrupt"] = g.value(st.booleans())
    return g.salt(c)


@st.composite
def scenario_docs(draw: Any) -> dict[str, Any]:
    g = Gen(draw, draw(st.sampled_from([0, 0, 60, 20, 6])))
    doc: dict[str, Any] = {}
    head: dict[str, Any] = {"name": g.value(st.sampled_from(["fuzz", "x", "a b"]))}
    if draw(st.booleans()):
        head["expect"] = g.value(st.one_of(st.just("clean"), st.lists(st.sampled_from(FINDINGS[:3]), max_size=2)))
    head["max_steps"] = g.value(st.integers(50, 3000))
    if draw(st.booleans()):
        head["description"] = g.value(short_text)
    doc["scenario"] = g.salt(head)
    mach: dict[str, Any] = {}
    for key, strat in (("profile", st.sampled_from(list(PROFILE_NAMES))),
                       ("cpus", st.integers(1, 3)), ("nr_cpus", st.sampled_from([32, 4, 1])),
                       ("memory", st.sampled_from(["2G", "1G", "4G", "512M"])),
                       ("pae", st.booleans()), ("km_types", st.sampled_from(["2.4.22", "book"])),
                       ("last_pkmap", st.sampled_from([4, 1024, 2])),
                       ("config", st.dictionaries(st.sampled_from(CONFIG[:5]),
                                                  st.one_of(st.booleans(), st.sampled_from(["y", "n"])),
                                                  max_size=2))):
        if draw(st.integers(0, 3)) == 3:
            mach[key] = g.value(strat)
    if mach.get("profile", "linux-2.4") == "linux-2.4":
        g.km_types = list(KM_TYPE_VARIANTS["2.4.22"]) + (["KM_IRQ0"] if g.rate else [])
    elif mach.get("profile") == "linux-2.6":
        g.km_types = list(KM_2_6_32)
    if isinstance(mach.get("cpus"), int):
        g.cpus = max(1, min(3, mach["cpus"]))
    doc["machine"] = g.salt(mach)
    pages: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(PAGES), min_size=1, max_size=4, unique=True)):
        good = st.fixed_dictionaries({}, optional={"fill": st.text(min_size=1, max_size=3),
                                                   "data": st.text(max_size=8)})
        spec = g.value(st.one_of(st.just("normal" if name == "lo" else "highmem"), good))
        pages[name] = g.salt(spec) if isinstance(spec, dict) else spec
    if g.junky():
        pages[draw(st.sampled_from(["bad name", "", "9"]))] = "highmem"
    g.pages = [n for n in pages if n in PAGES]
    doc["pages"] = pages
    if draw(st.integers(0, 3)) == 3:
        dev: dict[str, Any] = {"name": g.value(st.sampled_from(DEVICES))}
        for key, strat in (("blocks", st.sampled_from([8, 1, 64])), ("block_size", st.sampled_from([1024, 512, 4096])),
                           ("bounce_pfn", st.sampled_from([4095, 0, 1 << 20])), ("irq", st.sampled_from(["ide0"])),
                           ("cpu", st.integers(0, g.cpus - 1)), ("alloc_fails", st.booleans()),
                           ("read_km_type", st.sampled_from(KM_TYPES)),
                           ("data", st.dictionaries(st.sampled_from(["0", "3", "x", "99"]), st.text(max_size=5),
                                                    max_size=2))):
            if draw(st.booleans()):
                dev[key] = g.value(strat)
        doc["device"] = [g.salt(dev)]
        if isinstance(dev.get("name"), str):
            g.devices = [dev["name"]]
    g.irqs = draw(st.lists(st.sampled_from(IRQS[::2]), max_size=2, unique=True))
    g.softirqs = draw(st.lists(st.sampled_from(SOFTIRQS), max_size=1, unique=True))
    ntasks = draw(st.integers(0 if g.junky() else 1, 3))
    for kind, n in (("task", ntasks), ("irq", len(g.irqs)), ("softirq", len(g.softirqs))):
        if n:
            doc[kind] = [context(g, kind, i) for i in range(n)]
    if draw(st.integers(0, 3)) == 3:
        doc["expect"] = [g.salt({"page": g.value(st.sampled_from(g.pages or PAGES)),
                                 "offset": g.value(st.integers(0, 4097)),
                                 "data": g.value(st.text(min_size=1, max_size=5))})]
    if g.devices and draw(st.integers(0, 3)) == 3:
        doc["expect_block"] = [g.salt({"device": g.value(st.sampled_from(g.devices)),
                                       "block": g.value(st.integers(0, 9)),
                                       "data": g.value(st.text(min_size=1, max_size=5))})]
    if g.junky():
        doc[draw(st.sampled_from(["scenario", "machine", "pages", "task", "irq", "expect", "tasks", "x"]))] = \
            draw(junk)
    return doc


# -- unstructured: mutations of real scenario files ---------------------------------------------------
def _builtin_texts() -> list[str]:
    root = resources.files("highmem.scenarios") / "builtin"
    return [p.read_text(encoding="utf-8") for p in sorted(root.iterdir(), key=lambda p: p.name)
            if p.name.endswith(".toml")]


BUILTIN_TEXTS = _builtin_texts()
TOKENS = ["[", "]", "[[", "]]", "{", "}", "=", '"', "'", ",", "\n", "#", "0", "-1", "4096", "1e9", "true",
          "op", "ops", "task", "irq", "KM_USER0", "kmap_atomic", "repeat", "count = 99999999999", "\\", "\t",
          "\u00e9", "\x00", '"""', "inf", "nan", "2024-01-01", "[task]", "[[pages]]", "[machine]"]


@st.composite
def mutated_texts(draw: Any) -> str:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=200))
    text = draw(st.sampled_from(BUILTIN_TEXTS))
    for _ in range(draw(st.integers(1, 4))):
        lines = text.split("\n")
        kind = draw(st.integers(0, 7))
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        if kind == 0:
            del lines[i]
        elif kind == 1:
            lines.insert(i, lines[i])
        elif kind == 2:
            j = draw(st.integers(0, max(0, len(lines) - 1)))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == 3 and text:
            pos = draw(st.integers(0, len(text) - 1))
            text = text[:pos] + draw(st.one_of(st.sampled_from(TOKENS), st.characters())) + text[pos + 1:]
            continue
        elif kind == 4:
            pos = draw(st.integers(0, len(text)))
            text = text[:pos]
            continue
        elif kind == 5:
            nums = list(re.finditer(r"-?\d+", text))
            if nums:
                m = nums[draw(st.integers(0, len(nums) - 1))]
                text = text[:m.start()] + str(draw(st.sampled_from(INTERESTING_INTS))) + text[m.end():]
            continue
        elif kind == 6:
            words = list(re.finditer(r"[A-Za-z_][A-Za-z0-9_.-]*", text))
            if words:
                m = words[draw(st.integers(0, len(words) - 1))]
                repl = draw(st.sampled_from(KM_TYPES + sorted(OP_FIELDS) + PAGES + VARS + CTX + ["task", "irq",
                                                                                                  "x", ""]))
                text = text[:m.start()] + repl + text[m.end():]
            continue
        else:
            pos = draw(st.integers(0, len(text)))
            text = text[:pos] + draw(st.sampled_from(TOKENS)) + text[pos:]
            continue
        text = "\n".join(lines)
    return text


# -- the property -------------------------------------------------------------------------------------
def check_input(text: str, test: str) -> None:
    STATS[(test, "inputs")] += 1
    try:
        sc = load_toml_text(text, WHERE)
    except HighmemError as e:
        msg = str(e)
        assert "\n" not in msg, f"loader message is not one line: {msg!r}"
        assert msg.startswith(WHERE), f"loader message does not name the file: {msg!r}"
        STATS[(test, "rejected by the loader")] += 1
        return
    except Exception as e:
        bug = known_loader_bug(e)
        if bug is None or STRICT:
            raise AssertionError(f"load_toml_text raised {type(e).__name__}: {e}\n--- input ---\n{text}") from e
        STATS[(test, f"known bug {bug}")] += 1
        return
    sc.max_steps = min(sc.max_steps, RUN_MAX_STEPS)
    skip = known_run_skip(sc)
    if skip is not None:
        if STRICT:
            raise AssertionError(f"input hits known bug {skip}\n--- input ---\n{text}")
        STATS[(test, f"known bug {skip}")] += 1
        return
    try:
        cfg = sc.config()
        with time_limit(RUN_SECONDS):
            explore(sc, cfg, strategy="random", schedules=2, seed=0, do_shrink=False)
    except HighmemError:
        STATS[(test, "loaded, HighmemError at run time")] += 1
        return
    except FuzzTimeout as e:
        raise AssertionError(f"explore hung ({e})\n--- input ---\n{text}") from None
    except Exception as e:
        bug = known_run_bug(sc, e)
        if bug is None or STRICT:
            raise AssertionError(f"explore raised {type(e).__name__}: {e}\n--- input ---\n{text}") from e
        STATS[(test, f"known bug {bug}")] += 1
        return
    STATS[(test, "loaded and ran")] += 1


@SETTINGS
@given(scenario_docs())
def test_fuzz_loader_structured(doc: dict[str, Any]) -> None:
    """Plausible scenario documents with junk: a Scenario or a one-line HighmemError, never anything else."""
    check_input(to_toml(doc), "structured")


@TEXT_SETTINGS
@given(mutated_texts())
def test_fuzz_loader_unstructured(text: str) -> None:
    """Mutated built-in files and raw text: a Scenario or a one-line HighmemError, never anything else."""
    check_input(text, "unstructured")


def test_fuzz_loader_serializer_round_trip() -> None:
    """The serializer writes what tomllib reads back (else the structured fuzzer tests nothing)."""
    import tomllib

    doc = {"top": 1, "scenario": {"name": "a\"b\\c\x7f\x01", "max_steps": -3}, "pages": {"bad name": "dma"},
           "task": [{"name": "t", "ops": [{"op": "load", "addr": "v", "size": 2**63 - 1}, [1, {"x": 1.5}]]}]}
    assert tomllib.loads(to_toml(doc)) == doc


@pytest.mark.parametrize("test", ["structured", "unstructured"])
def test_fuzz_loader_summary(test: str) -> None:
    """Print what the campaign ran (visible with -s or -rP); runs after the fuzz tests of this file."""
    rows = sorted((k[1], n) for k, n in STATS.items() if k[0] == test)
    if not rows:
        pytest.skip("the fuzz test did not run in this session")
    print(f"\nloader fuzzing, {test}:")
    for outcome, n in rows:
        print(f"  {outcome:40s} {n:6d}")
    assert dict(rows).get("inputs", 0) > 0
