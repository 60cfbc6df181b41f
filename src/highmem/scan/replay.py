"""Static findings replayed on the model: each finding becomes a scenario of its path.

For a finding, :func:`scenario_text` writes a TOML scenario (the format of
:mod:`highmem.scenarios`, loaded back through its public loader so an invalid one is never
written) whose task does what the reported path does: its maps, its unmaps, the accesses through
the addresses and the sleeping call, on the profile of the mapping's kind (``linux-5.11`` for
local maps, ``linux-2.6.37`` for stack ``kmap_atomic``, ``linux-2.4`` for ``km_type`` slots), with
an interrupt or a second task where the consequence needs one to show.  ``highmem check`` on it
gives the corresponding dynamic finding (:func:`expected`).

Departure from a faithful replay: the path is reduced to its mapping events; the bytes stored
and loaded are the scenario's own, not the kernel function's data.
"""

from __future__ import annotations

import os
import re

from highmem.scan.diagnostics import Finding

__all__ = ["scenario_text", "write_scenarios", "DYNAMIC", "expected", "replay_kind", "has_replay"]

#: Static rule -> the dynamic finding kinds `highmem check` reports for its replay (two variants
#: differ: see :func:`expected`).
DYNAMIC = {
    "unmap-order": ["unmap-order"],
    "kmap-leak": ["slot-in-use"],
    "wrong-unmap": ["kernel-bug"],
    "double-unmap": ["kernel-bug"],
    "use-after-unmap": ["page-fault"],
    "sleep-in-atomic": ["sleep-in-atomic"],
    "wrong-context": ["stale-access"],
    "remap-held-slot": ["remap-held-slot"],
}

_PROFILE = {"local": "linux-5.11", "atomic": "linux-2.6.37", "kmtype": "linux-2.4", "pkmap": "linux-5.11"}


def _under_lock(f: Finding) -> bool:
    """A sleep in a kmap_local section that holds a spinlock or runs with interrupts off."""
    return f.rule == "sleep-in-atomic" and ("spinlock is held" in f.message or "interrupts are disabled" in f.message)


def _local_unmap_of_kmap(f: Finding) -> bool:
    """``kunmap_local()``/``kunmap_atomic()`` given the address of a ``kmap()`` mapping."""
    return f.rule == "wrong-unmap" and "releases a stack mapping" in f.message


def expected(f: Finding, profile: str = "linux-2.4") -> list[str]:
    """The dynamic finding kinds `highmem check` reports for the replay of ``f``.

    ``profile`` is the one the replay runs on (:func:`scenario_text` says which).  A sleep under a
    spinlock deadlocks the task that needs the lock to wake the sleeper; a leaked ``kmap()`` keeps
    its pkmap entry, so with the pool used up the next ``kmap()`` sleeps for ever; on 2.6 a
    ``km_type`` slot mapped again while busy BUGs (``slot-in-use``); a ``kunmap_local()`` of a
    ``kmap()`` address does nothing on x86 (``kmap_high_unmap_local()``
    releases pkmap entries only with ARCH_NEEDS_KMAP_HIGH_GET, ARM; mm/highmem.c, 5.15), so the
    entry is never freed and, once the pool is used up, the next ``kmap()`` sleeps for ever.
    """
    if _under_lock(f) or _local_unmap_of_kmap(f) or (f.rule == "kmap-leak" and replay_kind(f) == "pkmap"):
        return ["deadlock"]
    if f.rule == "kmap-leak" and replay_kind(f) == "atomic":
        # 2.6.37's stack pushes the second run's map one slot up (no busy-slot BUG): what shows is
        # the softirq returning with its mapping still pushed.
        return ["leaked-mapping"]
    if f.rule == "wrong-context" and profile != "linux-2.4":
        # The interrupt's kmap_atomic() of the busy slot BUGs in 2.6 (kmap_atomic_prot).
        return ["slot-in-use"]
    if f.rule == "remap-held-slot" and profile != "linux-2.4":
        # 2.6's kmap_atomic_prot() BUGs whenever the slot's PTE is not none (2.6.32
        # arch/x86/mm/highmem_32.c): the remap is caught at once, not silent as in 2.4.
        return ["slot-in-use"]
    return DYNAMIC[f.rule]


def replay_kind(f: Finding) -> str:
    """The mapping kind a finding is about, read from its notes and message (``local`` by default)."""
    text = " ".join([f.message] + [n.message for n in f.notes])
    if re.search(r"\bKM_[A-Z_0-9]+", text):
        return "kmtype"
    if "kmap_atomic" in text:
        return "atomic"
    if re.search(r"\bwith kmap\(\)", text) and f.rule != "wrong-unmap":
        return "pkmap"
    return "local"


def _ops_for(f: Finding, kind: str) -> tuple[list[str], list[str], str]:
    """Task ops, interrupt ops, and extra [machine] lines for the finding's path."""
    mapop = {"local": 'op = "kmap_local_page"', "atomic": 'op = "kmap_atomic", type = "KM_USER0"',
             "kmtype": 'op = "kmap_atomic", type = "KM_USER0"', "pkmap": 'op = "kmap"'}[kind]
    unmap = {"local": 'op = "kunmap_local", addr = "{a}"', "atomic": 'op = "kunmap_atomic", addr = "{a}", '
             'type = "KM_USER0"', "kmtype": 'op = "kunmap_atomic", addr = "{a}", type = "KM_USER0"',
             "pkmap": 'op = "kunmap", page = "{p}"'}[kind]

    def m(page: str, var: str) -> str:
        return f'{{ {mapop}, page = "{page}", as = "{var}" }}'

    def u(var: str, page: str) -> str:
        return "{ " + unmap.format(a=var, p=page) + " }"

    r = f.rule
    if r == "unmap-order":
        return [m("A", "a"), m("B", "b"), '{ op = "store", addr = "b", data = "bb" }', u("a", "A"),
                '{ op = "load", addr = "b", size = 2, expect = "bb" }', u("b", "B")], [], ""
    if r == "kmap-leak" and kind == "pkmap":
        # kmap() may sleep, so the path is a task: two leaked entries of a pool of two, and the
        # third kmap() waits on pkmap_map_wait for an entry that is never freed.
        return ['{ op = "kmap", page = "A", as = "a" }', '{ op = "store", addr = "a", data = "aa" }',
                '{ op = "kmap", page = "B", as = "b" }', '{ op = "kmap", page = "C", as = "c" }',
                '{ op = "kunmap", page = "C" }'], [], "pool"
    if r == "kmap-leak":
        # The path runs as a softirq twice: the second run finds the slot the first one leaked
        # still mapped (a task's leaked local slot is only visible to its next map).
        return (['{ op = "raise_softirq", softirq = "leaky" }', '{ op = "work", steps = 4 }',
                 '{ op = "raise_softirq", softirq = "leaky" }', '{ op = "work", steps = 4 }'],
                [m("A", "a"), '{ op = "store", addr = "a", data = "aa" }'], "softirq")
    if r == "wrong-unmap" and _local_unmap_of_kmap(f):
        # Two kmap() entries released with kunmap_local() stay taken: with a pool of two, the
        # third kmap() waits on pkmap_map_wait for an entry that is never freed.
        return ['{ op = "kmap", page = "A", as = "a" }', '{ op = "load", addr = "a", size = 1, expect = "a" }',
                '{ op = "kunmap_local", addr = "a" }', '{ op = "kmap", page = "B", as = "b" }',
                '{ op = "kunmap_local", addr = "b" }', '{ op = "kmap", page = "C", as = "c" }',
                '{ op = "kunmap", page = "C" }'], [], "pool"
    if r == "wrong-unmap":
        return [m("A", "a"), '{ op = "kunmap", page = "A" }'], [], ""
    if r == "double-unmap":
        return [m("A", "a"), u("a", "A"), u("a", "A")], [], ""
    if r == "use-after-unmap":
        return [m("A", "a"), '{ op = "store", addr = "a", data = "aa" }', u("a", "A"),
                '{ op = "load", addr = "a", size = 2 }'], [], ""
    if _under_lock(f):
        # The sleeper holds the lock its waker needs: the waker, on the other CPU, spins for ever.
        lock, unlock = (("spin_lock_irq", "spin_unlock_irq") if "interrupts are disabled" in f.message
                        else ("spin_lock", "spin_unlock"))
        return ([f'{{ op = "{lock}", lock = "L" }}', m("A", "a"), '{ op = "store", addr = "a", data = "aa" }',
                 '{ op = "sleep", queue = "q" }', '{ op = "load", addr = "a", size = 2, expect = "aa" }',
                 u("a", "A"), f'{{ op = "{unlock}", lock = "L" }}'],
                ['{ op = "work", steps = 3 }', '{ op = "spin_lock", lock = "L" }', '{ op = "wake", queue = "q" }',
                 '{ op = "spin_unlock", lock = "L" }'], "task")
    if r == "sleep-in-atomic":
        return [m("A", "a"), '{ op = "store", addr = "a", data = "aa" }', '{ op = "schedule" }',
                '{ op = "load", addr = "a", size = 2, expect = "aa" }', u("a", "A")], [], ""
    if r == "remap-held-slot":
        slot = re.search(r"\bKM_[A-Z_0-9]+", f.message)
        s = slot.group() if slot else "KM_USER0"
        return [f'{{ op = "kmap_atomic", page = "A", type = "{s}", as = "a" }}',
                '{ op = "store", addr = "a", data = "aa" }',
                f'{{ op = "kmap_atomic", page = "B", type = "{s}", as = "b" }}',
                '{ op = "load", addr = "a", size = 2, expect = "aa" }',
                f'{{ op = "kunmap_atomic", addr = "b", type = "{s}" }}'], [], "nodebug"
    if r == "wrong-context":
        slot = (re.search(r"\bKM_[A-Z_0-9]+", f.message) or re.search(r"KM_USER0", "KM_USER0"))
        s = slot.group() if slot else "KM_USER0"
        task = ['{ op = "work", steps = 30 }', f'{{ op = "kmap_atomic", page = "A", type = "{s}", as = "a" }}',
                '{ op = "store", addr = "a", data = "task data" }', '{ op = "raise_irq", irq = "irq0" }',
                '{ op = "work", steps = 4 }',
                '{ op = "load", addr = "a", size = 9, expect = "task data" }',
                f'{{ op = "kunmap_atomic", addr = "a", type = "{s}" }}', '{ op = "work", steps = 30 }']
        irq = [f'{{ op = "kmap_atomic", page = "B", type = "{s}", as = "q" }}',
               '{ op = "store", addr = "q", data = "interrupt" }',
               f'{{ op = "kunmap_atomic", addr = "q", type = "{s}" }}']
        return task, irq, ""
    raise ValueError(f"rule {r} has no replay")


def has_replay(f: Finding) -> bool:
    """Whether the model shows a consequence of ``f``: every warning does; notes are not replayed."""
    return f.rule in DYNAMIC


def scenario_text(f: Finding, index: int = 0) -> str | None:
    """The TOML scenario replaying finding ``f`` (``None`` when :func:`has_replay` says there is none).

    A ``km_type`` finding replays on ``linux-2.4``; when its slot is one 2.4.22's enum lacks
    (``KM_IRQ0`` came with 2.6), on ``linux-2.6`` (2.6.32's enum).
    """
    from highmem.errors import HighmemError

    if not has_replay(f):
        return None
    kind = replay_kind(f)
    try:
        return _scenario_text(f, index, kind, _PROFILE[kind])
    except HighmemError:
        if kind != "kmtype":
            raise
        return _scenario_text(f, index, kind, "linux-2.6")


def _scenario_text(f: Finding, index: int, kind: str, profile: str) -> str:
    task, irq, handler = _ops_for(f, kind)
    name = f"scan-{f.rule}-{index}"
    where = f"{f.path}:{f.line}:{f.column}"
    desc = f"Replay of {where} in {f.function}(): {f.message}".replace("\\", "/").replace('"', "'")
    lines = ["[scenario]", f'name = "{name}"', f'description = "{desc}"',
             f'reference = "highmem scan finding [highmem-{f.rule}] at {where}"',
             f"expect = {expected(f, profile)!r}".replace("'", '"'), "", "[machine]", f'profile = "{profile}"']
    if handler == "task":
        lines += ["cpus = 2", "nr_cpus = 2", 'memory = "2G"']
    elif handler == "nodebug":
        # Without DEBUG_HIGHMEM the second map silently replaces the first (with it, the BUG fires).
        lines += ["cpus = 1", "nr_cpus = 1", 'memory = "2G"', "config = { SMP = false, DEBUG_HIGHMEM = false }"]
    else:
        lines += ["cpus = 1", "nr_cpus = 1", 'memory = "2G"', "config = { SMP = false }"]
    if handler == "pool":
        lines += ["last_pkmap = 2"]
    lines += ["", "[pages]", 'A = { fill = "a" }', 'B = { fill = "b" }', 'C = { fill = "c" }', "", "[[task]]",
              'name = "path"', "cpu = 0", "ops = ["]
    lines += [f"  {op}," for op in task] + ["]"]
    if handler == "task":
        lines += ["", "[[task]]", 'name = "waker"', "cpu = 1", "ops = ["] + [f"  {op}," for op in irq] + ["]"]
    elif irq:
        section, hname = ("[[softirq]]", "leaky") if handler == "softirq" else ("[[irq]]", "irq0")
        lines += ["", section, f'name = "{hname}"', "cpu = 0", "max = 2" if handler else "max = 1", "ops = ["]
        lines += [f"  {op}," for op in irq] + ["]"]
    text = "\n".join(lines) + "\n"
    from highmem.scenarios import load_toml_text

    load_toml_text(text, f"{name}.toml")  # the scenarios layer's own validation
    return text


def write_scenarios(findings: list[Finding], directory: str) -> list[str]:
    """Write one scenario per warning into ``directory`` (created); returns the file names in order."""
    from highmem.report.output import write_text

    os.makedirs(directory, exist_ok=True)
    out = []
    for i, f in enumerate(findings):
        text = scenario_text(f, i)
        if text is None:
            continue
        p = os.path.join(directory, f"scan-{i:04d}-{f.rule}.toml")
        write_text(p, text, "scenario")
        out.append(p)
    return out
