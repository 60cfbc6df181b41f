"""Testing the checker by mutation: correct scenarios, mechanically broken, must be caught.

The bases are the *correct* built-ins (``[scenario] expect = "clean"``): ``copy-highpage``,
``bounce-read-irq``, ``pkmap-exhaustion``, ``kmap-local-preempt`` (``bounce-io`` is correct too
but one run of it takes a quarter of a second), plus five small correct scenarios written here
for the mutation sites the built-ins do not offer (below).  Every mutation is applied at every
site it fits, to a deep copy of the loaded scenario's ``ContextSpec.ops``; each mutant is
explored with PCT (``SCHEDULES`` schedules, no shrinking) and counts as *reported* when any
schedule produces any finding.  Originals must report nothing.

The mutation kinds, and when a mutant is *really wrong* (decided from the mutant's text by the
rules below, never from the checker's answer):

``drop-kunmap``
    Remove one ``kunmap_atomic``.  Always wrong: even on 2.4 without ``DEBUG_HIGHMEM``, where
    ``kunmap_atomic`` is a no-op, the slot stays mapped when the context ends, which is the
    leak the checker reports as ``exit-in-atomic`` (task) or ``leaked-mapping`` (handler); on
    the stack-slot profiles the next unmap also pops the wrong slot.
``insert-schedule`` / ``insert-wait``
    Right after a ``kmap_atomic``, call ``schedule()``, or ``wait_for_completion`` on a
    completion that a new task on the same CPU completes.  Always wrong: an atomic kmap may not
    be held across a sleep (Gorman 10.3); in a handler, sleeping is a BUG of its own.  Not
    applied to ``kmap_local_page``, which may be held across a context switch.
``swap-km-types``
    Exchange the km types of a task's ``kmap_atomic`` and an interrupt handler's on the same CPU
    (e.g. the handler's ``KM_BH_IRQ`` <-> the task's ``KM_USER0``).  Wrong under ``linux-2.6``
    with ``DEBUG_HIGHMEM``, whose ``debug_kmap_atomic`` checks each type's context.  On 2.4 it
    is wrong only when another task on that CPU still uses the type the handler now takes:
    2.4 has no per-type context check, and when the task and the handler are the only users of
    the two types on their CPU the swap is a renaming - each slot still has one context, no
    slot is ever shared, and the kernel runs correctly.  Those 2.4 mutants are "not really
    wrong" and must report nothing.
``reorder-unmaps``
    Swap two adjacent unmaps of nested mappings.  Wrong on the stack-slot profiles
    (``linux-2.6.37``, ``linux-5.11``), where an unmap pops the top slot whatever it is given.
    Legal on ``linux-2.4`` (and ``linux-2.6``): fixed slots per type can be released in any
    order - 2.4's own ``copy_highpage`` unmaps ``KM_USER0`` first - so those mutants must
    report nothing.
``copy-outside-cli``
    In a hard-IRQ handler, move the ``restore_flags`` / ``local_irq_restore`` / ``sti`` that
    closes an interrupts-off window to just before the ``copy`` inside it, so the copy runs with
    interrupts on while the slot is held.  Wrong when another handler on that CPU maps the same
    km type (it can now nest and take the slot, as two bounce completions sharing
    ``KM_BOUNCE_READ`` would in 2.4).  When no other handler of that CPU uses the type (the
    built-in ``bounce-read-irq``: one handler, and an interrupt never nests in itself) nothing
    can take the slot: not really wrong, must report nothing.
``wrong-context-type``
    Use a km type from the wrong context: on 2.4, ``KM_USER0`` in an interrupt or softirq
    handler (wrong when a task on that CPU uses ``KM_USER0`` and the handler can arrive while
    it holds it: the handler takes the slot from under the task; else, as above, nothing shares
    the slot - e.g. ``bounce-read-irq``'s ``ide0`` runs only when the reader raises it, and a
    raised interrupt is delivered at the raiser's next scheduling point, before its first
    ``kmap_atomic``, so a ``KM_USER0`` there never meets the reader's); on ``linux-2.6`` with
    ``DEBUG_HIGHMEM``, ``KM_IRQ0`` in process context with interrupts on, or ``KM_USER0`` in a
    handler (always wrong: ``debug_kmap_atomic`` warns).

The test asserts 100% detection of the really wrong mutants and no report on the others, and
prints the per-kind table (run pytest with ``-s`` or ``-rP`` to see it).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from highmem.scenarios import load_builtin, load_toml_text
from highmem.scenarios.model import ContextSpec, Scenario
from highmem.sim.explore import explore

SCHEDULES = 150
BUILTINS = ["copy-highpage", "bounce-read-irq", "pkmap-exhaustion", "kmap-local-preempt"]
STACK_PROFILES = ("linux-2.6.37", "linux-5.11")
UNMAPS = ("kunmap_atomic", "kunmap_local")
IRQ_ON = ("restore_flags", "local_irq_restore", "sti")
IRQ_OFF = ("save_flags", "local_irq_save", "cli")

# -- purpose-built correct scenarios ---------------------------------------------------------------------
TWO_USERS_24 = """
[scenario]
name = "two-users-2.4"
description = "Two tasks of CPU 0 take turns with KM_USER0 (2.4 is not preemptive); a handler uses KM_BH_IRQ under cli"
expect = "clean"

[machine]
profile = "linux-2.4"
cpus = 1
nr_cpus = 1
memory = "1G"
config = { SMP = false }

[pages]
A = { fill = "a" }
B = { fill = "b" }
R = { fill = "r" }

[[task]]
name = "first"
ops = [
  { op = "work", steps = 2 },
  { op = "kmap_atomic", page = "A", type = "KM_USER0", as = "v" },
  { op = "store", addr = "v", data = "first" },
  { op = "work", steps = 2 },
  { op = "load", addr = "v", expect = "first" },
  { op = "kunmap_atomic", addr = "v", type = "KM_USER0" },
]

[[task]]
name = "second"
ops = [
  { op = "kmap_atomic", page = "B", type = "KM_USER0", as = "v" },
  { op = "store", addr = "v", data = "second" },
  { op = "work", steps = 2 },
  { op = "load", addr = "v", expect = "second" },
  { op = "kunmap_atomic", addr = "v", type = "KM_USER0" },
]

[[irq]]
name = "eth0"
max = 2
ops = [
  { op = "save_flags", as = "f" },
  { op = "cli" },
  { op = "kmap_atomic", page = "R", type = "KM_BH_IRQ", as = "r" },
  { op = "load", addr = "r", expect = "rr" },
  { op = "kunmap_atomic", addr = "r", type = "KM_BH_IRQ" },
  { op = "restore_flags", flags = "f" },
]

[[expect]]
page = "A"
data = "first"

[[expect]]
page = "B"
data = "second"
"""

TWO_COMPLETIONS_24 = """
[scenario]
name = "two-completions-2.4"
description = "Two READ completions on CPU 0 copy bounce buffers through KM_BOUNCE_READ, each under local_irq_save"
expect = "clean"

[machine]
profile = "linux-2.4"
cpus = 1
nr_cpus = 1
memory = "1G"
config = { SMP = false }

[pages]
bounce0 = { zone = "normal", data = "block zero" }
bounce1 = { zone = "normal", data = "block one!" }
dest0 = { fill = "." }
dest1 = { fill = "." }

[[task]]
name = "idle"
ops = [ { op = "work", steps = 12 } ]

[[irq]]
name = "ide0"
ops = [
  { op = "local_irq_save", as = "f" },
  { op = "kmap_atomic", page = "dest0", type = "KM_BOUNCE_READ", as = "vto" },
  { op = "page_address", page = "bounce0", as = "vfrom" },
  { op = "copy", dst = "vto", src = "vfrom", size = 10 },
  { op = "load", addr = "vto", expect = "block zero" },
  { op = "kunmap_atomic", addr = "vto", type = "KM_BOUNCE_READ" },
  { op = "local_irq_restore", flags = "f" },
]

[[irq]]
name = "ide1"
ops = [
  { op = "local_irq_save", as = "f" },
  { op = "kmap_atomic", page = "dest1", type = "KM_BOUNCE_READ", as = "vto" },
  { op = "page_address", page = "bounce1", as = "vfrom" },
  { op = "copy", dst = "vto", src = "vfrom", size = 10 },
  { op = "load", addr = "vto", expect = "block one!" },
  { op = "kunmap_atomic", addr = "vto", type = "KM_BOUNCE_READ" },
  { op = "local_irq_restore", flags = "f" },
]
"""

IRQ_TYPES_26 = """
[scenario]
name = "irq-types-2.6"
description = "2.6.32 with DEBUG_HIGHMEM: the task maps KM_USER0, the handler KM_IRQ0 with interrupts off"
expect = "clean"

[machine]
profile = "linux-2.6"
cpus = 1
nr_cpus = 1
memory = "1G"
config = { SMP = false, DEBUG_HIGHMEM = true }

[pages]
P = { fill = "p" }
Q = { fill = "q" }

[[task]]
name = "user"
ops = [
  { op = "work", steps = 2 },
  { op = "kmap_atomic", page = "P", type = "KM_USER0", as = "v" },
  { op = "store", addr = "v", data = "user" },
  { op = "work", steps = 2 },
  { op = "load", addr = "v", expect = "user" },
  { op = "kunmap_atomic", addr = "v", type = "KM_USER0" },
  { op = "work", steps = 2 },
]

[[irq]]
name = "mlx"
ops = [
  { op = "local_irq_save", as = "f" },
  { op = "kmap_atomic", page = "Q", type = "KM_IRQ0", as = "q" },
  { op = "load", addr = "q", expect = "qq" },
  { op = "kunmap_atomic", addr = "q", type = "KM_IRQ0" },
  { op = "local_irq_restore", flags = "f" },
]
"""

NESTED_26_37 = """
[scenario]
name = "nested-2.6.37"
description = "Nested kmap_atomic released in LIFO order on the 2.6.39 per-CPU slot stack"
expect = "clean"

[machine]
profile = "linux-2.6.37"
cpus = 1
nr_cpus = 1
memory = "1G"
config = { SMP = false }

[pages]
A = { data = "from page A" }
B = { fill = "-" }

[[task]]
name = "copier"
ops = [
  { op = "kmap_atomic", page = "A", type = "KM_USER0", as = "a" },
  { op = "kmap_atomic", page = "B", type = "KM_USER1", as = "b" },
  { op = "copy", dst = "b", src = "a", size = 11 },
  { op = "load", addr = "b", expect = "from page A" },
  { op = "kunmap_atomic", addr = "b", type = "KM_USER1" },
  { op = "kunmap_atomic", addr = "a", type = "KM_USER0" },
  { op = "work", steps = 2 },
]

[[expect]]
page = "B"
data = "from page A"
"""

NESTED_5_11 = """
[scenario]
name = "nested-5.11"
description = "Nested kmap_local_page and nested kmap_atomic released in LIFO order on 5.11"
expect = "clean"

[machine]
profile = "linux-5.11"
cpus = 1
nr_cpus = 1
memory = "1G"
config = { SMP = false }

[pages]
A = { data = "from page A" }
B = { fill = "-" }
C = { data = "from page C" }
D = { fill = "-" }

[[task]]
name = "local"
ops = [
  { op = "kmap_local_page", page = "A", as = "a" },
  { op = "kmap_local_page", page = "B", as = "b" },
  { op = "copy", dst = "b", src = "a", size = 11 },
  { op = "load", addr = "b", expect = "from page A" },
  { op = "kunmap_local", addr = "b" },
  { op = "kunmap_local", addr = "a" },
]

[[task]]
name = "atomic"
ops = [
  { op = "kmap_atomic", page = "C", type = "KM_USER0", as = "c" },
  { op = "kmap_atomic", page = "D", type = "KM_USER1", as = "d" },
  { op = "copy", dst = "d", src = "c", size = 11 },
  { op = "load", addr = "d", expect = "from page C" },
  { op = "kunmap_atomic", addr = "d", type = "KM_USER1" },
  { op = "kunmap_atomic", addr = "c", type = "KM_USER0" },
]

[[expect]]
page = "B"
data = "from page A"

[[expect]]
page = "D"
data = "from page C"
"""

OWN = [TWO_USERS_24, TWO_COMPLETIONS_24, IRQ_TYPES_26, NESTED_26_37, NESTED_5_11]


def bases() -> list[Scenario]:
    out = [load_builtin(n) for n in BUILTINS]
    for text in OWN:
        sc = load_toml_text(text, "mutation-base")
        out.append(sc)
    return out


# -- sites ---------------------------------------------------------------------------------------------------
Path_ = tuple[int, ...]


def walk(ops: list[dict[str, Any]], prefix: Path_ = ()) -> Iterator[tuple[Path_, dict[str, Any]]]:
    """(path, op) of every op, nested repeat bodies included; a path indexes op lists down the repeats."""
    for i, op in enumerate(ops):
        yield prefix + (i,), op
        if op.get("op") == "repeat":
            yield from walk(op["ops"], prefix + (i,))


def oplist(ops: list[dict[str, Any]], path: Path_) -> list[dict[str, Any]]:
    """The op list that holds the op at ``path``."""
    cur = ops
    for i in path[:-1]:
        cur = cur[i]["ops"]
    return cur


def profile_of(sc: Scenario) -> str:
    return str(sc.machine.get("profile", "linux-2.4"))


def debug_26(sc: Scenario) -> bool:
    cfg = sc.machine.get("config", {}) or {}
    return profile_of(sc) == "linux-2.6" and cfg.get("DEBUG_HIGHMEM") in ("y", True)


def can_interrupt(sc: Scenario, h: ContextSpec) -> bool:
    """Whether handler ``h`` can arrive in the middle of a task's window on its CPU: it arrives on
    its own (``max`` is not 0), or code on another CPU raises it.  A handler that only its own
    CPU's code raises runs at the raiser's next scheduling point (a raised interrupt is delivered
    as soon as the CPU runs with interrupts on), i.e. right where the raise is written."""
    if h.max != 0:
        return True
    return any(c.cpu != h.cpu and any(op.get("op") == "raise_irq" and op.get("irq") == h.name
                                      for _, op in walk(c.ops or [])) for c in sc.contexts)


def types_of(c: ContextSpec) -> set[str]:
    return {op["type"] for _, op in walk(c.ops or []) if op.get("op") == "kmap_atomic"}


@dataclass
class Mutant:
    kind: str
    base: str
    where: str
    scenario: Scenario
    wrong: bool
    why: str


def _clone(sc: Scenario, kind: str, where: str) -> Scenario:
    m = copy.deepcopy(sc)
    m.name = f"{sc.name}~{kind}@{where}"
    return m


def _ctx(m: Scenario, name: str) -> ContextSpec:
    return next(c for c in m.contexts if c.name == name)


def drop_kunmap(sc: Scenario) -> Iterator[Mutant]:
    for c in sc.contexts:
        for path, op in walk(c.ops or []):
            if op.get("op") == "kunmap_atomic":
                where = f"{c.name}{list(path)}"
                m = _clone(sc, "drop-kunmap", where)
                ops = _ctx(m, c.name).ops or []
                del oplist(ops, path)[path[-1]]
                yield Mutant("drop-kunmap", sc.name, where, m, True, "the slot stays mapped when the context ends")


def insert_sleep(sc: Scenario) -> Iterator[Mutant]:
    for c in sc.contexts:
        for path, op in walk(c.ops or []):
            if op.get("op") != "kmap_atomic":
                continue
            for kind in ("insert-schedule", "insert-wait"):
                where = f"{c.name}{list(path)}"
                m = _clone(sc, kind, where)
                mc = _ctx(m, c.name)
                lst = oplist(mc.ops or [], path)
                if kind == "insert-schedule":
                    lst.insert(path[-1] + 1, {"op": "schedule"})
                else:
                    lst.insert(path[-1] + 1, {"op": "wait_for_completion", "completion": "mutant"})
                    m.contexts.append(ContextSpec("task", "completer", mc.cpu,
                                                  ops=[{"op": "complete", "completion": "mutant"}]))
                yield Mutant(kind, sc.name, where, m, True, "an atomic kmap held across a sleep")


def swap_types(sc: Scenario) -> Iterator[Mutant]:
    if profile_of(sc) in STACK_PROFILES:
        return  # the type argument is ignored there: a swap changes nothing
    for t in sc.contexts:
        if t.kind != "task":
            continue
        for h in sc.contexts:
            if h.kind != "irq" or h.cpu != t.cpu:
                continue
            for tt in sorted(types_of(t)):
                for ht in sorted(types_of(h) - {tt}):
                    where = f"{t.name}:{tt}<->{h.name}:{ht}"
                    m = _clone(sc, "swap-km-types", where)
                    for ctx, old, new in ((_ctx(m, t.name), tt, ht), (_ctx(m, h.name), ht, tt)):
                        for _, op in walk(ctx.ops or []):
                            if op.get("type") == old and op.get("op") in ("kmap_atomic", "kunmap_atomic"):
                                op["type"] = new
                    others = [o for o in sc.contexts if o.kind == "task" and o.cpu == t.cpu and o.name != t.name
                              and tt in types_of(o)] if can_interrupt(sc, h) else []
                    if debug_26(sc):
                        yield Mutant("swap-km-types", sc.name, where, m, True, "debug_kmap_atomic checks contexts")
                    elif others:
                        yield Mutant("swap-km-types", sc.name, where, m, True,
                                     f"{others[0].name} still uses {tt}, which the handler now takes")
                    else:
                        yield Mutant("swap-km-types", sc.name, where, m, False,
                                     "a renaming: each slot of the CPU still has one context")


def reorder_unmaps(sc: Scenario) -> Iterator[Mutant]:
    stack = profile_of(sc) in STACK_PROFILES
    for c in sc.contexts:
        for path, op in walk(c.ops or []):
            lst = oplist(c.ops or [], path)
            i = path[-1]
            if op.get("op") in UNMAPS and i + 1 < len(lst) and lst[i + 1].get("op") in UNMAPS:
                where = f"{c.name}{list(path)}"
                m = _clone(sc, "reorder-unmaps", where)
                ml = oplist(_ctx(m, c.name).ops or [], path)
                ml[i], ml[i + 1] = ml[i + 1], ml[i]
                yield Mutant("reorder-unmaps", sc.name, where, m, stack,
                             "the stack pops the top slot" if stack else "fixed slots: any order is legal")


def copy_outside_cli(sc: Scenario) -> Iterator[Mutant]:
    for h in sc.contexts:
        if h.kind != "irq":
            continue
        ops = h.ops or []
        for path, op in walk(ops):
            if op.get("op") != "copy":
                continue
            lst = oplist(ops, path)
            i = path[-1]
            before = [o.get("op") for o in lst[:i]]
            opened = max((j for j, o in enumerate(before) if o in IRQ_OFF), default=-1)
            closed = max((j for j, o in enumerate(before) if o in IRQ_ON), default=-1)
            close = next((j for j in range(i + 1, len(lst)) if lst[j].get("op") in IRQ_ON), None)
            if opened < 0 or closed > opened or close is None:
                continue  # the copy does not sit in an interrupts-off window
            where = f"{h.name}{list(path)}"
            m = _clone(sc, "copy-outside-cli", where)
            ml = oplist(_ctx(m, h.name).ops or [], path)
            ml.insert(i, ml.pop(close))
            mine = types_of(h)
            sharers = [o.name for o in sc.contexts if o.kind == "irq" and o.cpu == h.cpu and o.name != h.name
                       and types_of(o) & mine and can_interrupt(sc, o)]
            yield Mutant("copy-outside-cli", sc.name, where, m, bool(sharers),
                         f"{sharers[0]} can nest and take the slot" if sharers
                         else "no other handler of the CPU uses the slot")


def wrong_context(sc: Scenario) -> Iterator[Mutant]:
    prof = profile_of(sc)
    for c in sc.contexts:
        for path, op in walk(c.ops or []):
            if op.get("op") != "kmap_atomic":
                continue
            if c.kind in ("irq", "softirq") and prof in ("linux-2.4", "linux-2.6") and op["type"] != "KM_USER0":
                new = "KM_USER0"
            elif c.kind == "task" and debug_26(sc) and op["type"] != "KM_IRQ0":
                new = "KM_IRQ0"
            else:
                continue
            old = op["type"]
            where = f"{c.name}{list(path)}:{new}"
            m = _clone(sc, "wrong-context-type", where)
            mc = _ctx(m, c.name)
            for _, o in walk(mc.ops or []):
                if o.get("type") == old and o.get("op") in ("kmap_atomic", "kunmap_atomic"):
                    o["type"] = new
            users = [o.name for o in sc.contexts if o.kind == "task" and o.cpu == c.cpu and "KM_USER0" in types_of(o)]
            if debug_26(sc):
                yield Mutant("wrong-context-type", sc.name, where, m, True, "debug_kmap_atomic checks contexts")
            elif not users:
                yield Mutant("wrong-context-type", sc.name, where, m, False, "no task of the CPU uses KM_USER0")
            elif c.kind == "irq" and not can_interrupt(sc, c):
                yield Mutant("wrong-context-type", sc.name, where, m, False,
                             "the handler runs only where its own CPU raises it, outside every KM_USER0 window")
            else:
                yield Mutant("wrong-context-type", sc.name, where, m, True, f"{users[0]} holds KM_USER0 on that CPU")


MUTATIONS: list[Callable[[Scenario], Iterator[Mutant]]] = [
    drop_kunmap, insert_sleep, swap_types, reorder_unmaps, copy_outside_cli, wrong_context]
KINDS = ["drop-kunmap", "insert-schedule", "insert-wait", "swap-km-types", "reorder-unmaps", "copy-outside-cli",
         "wrong-context-type"]


def reported(sc: Scenario) -> list[str]:
    """The finding kinds PCT exploration of ``sc`` reports (stops at the first failing schedule)."""
    ex = explore(sc, sc.config(), strategy="pct", schedules=SCHEDULES, seed=1, do_shrink=False, stop_on_first=True)
    return sorted(ex.counts)


@pytest.fixture(scope="module")
def base_scenarios() -> list[Scenario]:
    return bases()


def test_mutation_originals_are_clean(base_scenarios: list[Scenario]) -> None:
    """Every base scenario is correct: nothing reported in SCHEDULES PCT schedules."""
    dirty = {sc.name: reported(sc) for sc in base_scenarios}
    assert all(sc.expect == [] for sc in base_scenarios)
    assert {k: v for k, v in dirty.items() if v} == {}


def test_mutation_detection_table(base_scenarios: list[Scenario]) -> None:
    """Every really wrong mutant is reported (100% per kind); the not-really-wrong ones report nothing."""
    rows: dict[str, Counter[str]] = {k: Counter() for k in KINDS}
    missed: list[str] = []
    false_alarms: list[str] = []
    found_kinds: dict[str, Counter[str]] = {k: Counter() for k in KINDS}
    for sc in base_scenarios:
        for mutate in MUTATIONS:
            for mu in mutate(sc):
                kinds = reported(mu.scenario)
                r = rows[mu.kind]
                r["mutants"] += 1
                if mu.wrong:
                    r["wrong"] += 1
                    if kinds:
                        r["detected"] += 1
                        found_kinds[mu.kind].update(kinds)
                    else:
                        missed.append(f"{mu.kind} {mu.base} {mu.where}: {mu.why}")
                else:
                    r["legal"] += 1
                    if kinds:
                        r["legal reported"] += 1
                        false_alarms.append(f"{mu.kind} {mu.base} {mu.where}: {kinds} ({mu.why})")
    lines = [f"{'mutation kind':20s} {'mutants':>7s} {'wrong':>5s} {'detected':>8s} {'rate':>6s} "
             f"{'legal':>5s} {'legal reported':>14s}  findings on the wrong ones"]
    for k in KINDS:
        r = rows[k]
        rate = f"{100 * r['detected'] / r['wrong']:.0f}%" if r["wrong"] else "-"
        fk = ", ".join(f"{n} {c}" for n, c in sorted(found_kinds[k].items()))
        lines.append(f"{k:20s} {r['mutants']:7d} {r['wrong']:5d} {r['detected']:8d} {rate:>6s} {r['legal']:5d} "
                     f"{r['legal reported']:14d}  {fk}")
    tot = sum((rows[k] for k in KINDS), Counter())
    lines.append(f"{'total':20s} {tot['mutants']:7d} {tot['wrong']:5d} {tot['detected']:8d} "
                 f"{100 * tot['detected'] / max(1, tot['wrong']):5.0f}% {tot['legal']:5d} {tot['legal reported']:14d}")
    print(f"\nchecker mutation testing (PCT, {SCHEDULES} schedules per mutant)\n" + "\n".join(lines))
    assert all(rows[k]["mutants"] for k in KINDS), "every mutation kind has at least one site"
    assert not missed, "really wrong mutants the checker did not report:\n" + "\n".join(missed)
    assert not false_alarms, "legal mutants the checker reported:\n" + "\n".join(false_alarms)
