"""Profile linux-5.11: kmap_local_page and the kmap_atomic built on it, as 5.15 has them (x86-32).

kernel-facts.md 4: mm/highmem.c (kmap_local_idx_push/pop, __kmap_local_pfn_prot, kunmap_local_indexed,
__kmap_local_sched_out/_in), include/linux/highmem-internal.h (kmap_atomic = preempt_disable +
pagefault_disable + kmap_local), include/asm-generic/kmap_size.h (KM_MAX_IDX 16 / 33), kernel/sched/core.c.
CPU slot idx = (task kmap_ctrl.idx - 1) + KM_MAX_IDX*cpu, vaddr = 0xfffff000 - (FIX_KMAP_BEGIN + idx)*4096.
FIX_KMAP_BEGIN is 68 for the default SMP config (FIX_HOLE, FIX_DBGP_BASE, FIX_EARLYCON_MEM_BASE,
FIX_APIC_BASE, 64 IO-APICs) and 3 on a UP kernel without APICs (see test_profiles_layout for the layout).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest

import highmem
from highmem.errors import KernelBUG
from highmem.events import Warn
from highmem.scenarios import load_builtin, load_toml_text
from highmem.scenarios.model import Scenario
from highmem.sim import explore as explore_mod
from highmem.sim.explore import explore, run_once
from highmem.sim.strategy import DefaultStrategy

SMP_KMAP_BEGIN = 68
UP_KMAP_BEGIN = 3


def vaddr(idx: int, begin: int = SMP_KMAP_BEGIN) -> int:
    """5.15 arch/x86/include/asm/fixmap.h: __fix_to_virt(FIX_KMAP_BEGIN + idx), FIXADDR_TOP 0xfffff000."""
    return 0xFFFFF000 - (begin + idx) * 0x1000


def pte(m: highmem.Machine, idx: int) -> int:
    frame, off = m.kmap_pte_at[idx]
    return int(m.pte_struct.unpack_from(frame, off)[0])


def _traced_exhaustive(sc: Scenario, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> tuple[Any, list[Any]]:
    traces: list[list[dict[str, Any]]] = []
    real = explore_mod.run_once

    def spy(sc_: Scenario, cfg: Any, strat: Any, *, trace: bool = False, **kw: Any) -> Any:
        res, rec = real(sc_, cfg, strat, trace=True, **kw)
        traces.append(rec.records)
        return res, rec

    monkeypatch.setattr(explore_mod, "run_once", spy)
    ex = explore(sc, sc.config(), strategy="exhaustive", do_shrink=False, **kw)
    return ex, traces


def _preemptions(traces: list[Any]) -> tuple[int, int]:
    """(preemptions of a task inside its own map..unmap window, preemptions outside one)."""
    inside = outside = 0
    for recs in traces:
        holding: set[str] = set()
        for r in recs:
            c = r.get("context")
            if r["kind"] == "kmap_atomic" and r["idx"] >= 0:
                holding.add(c)
            elif r["kind"] == "kunmap_atomic":
                holding.discard(c)
            elif r["kind"] == "context" and r["what"] == "switch_out" and r["detail"] == "preempt":
                if c in holding:
                    inside += 1
                else:
                    outside += 1
    return inside, outside


UP = """
[machine]
profile = "linux-5.11"
cpus = 1
nr_cpus = 1
memory = "2G"
config = { SMP = false }
"""

TWO_TASKS = UP + """
[pages]
P = { fill = "p" }
Q = { fill = "q" }

[[task]]
name = "first"
ops = [
  { op = "kmap_local_page", page = "P", as = "v" },
  { op = "schedule" },
  { op = "load", addr = "v", size = 1, expect = "p" },
  { op = "kunmap_local", addr = "v" },
]

[[task]]
name = "second"
ops = [
  { op = "kmap_local_page", page = "Q", as = "v" },
  { op = "load", addr = "v", size = 1, expect = "q" },
  { op = "kunmap_local", addr = "v" },
]
"""


def test_profile_5_11_each_task_has_its_own_stack() -> None:
    """5.15 include/linux/sched.h kmap_ctrl: the slot stack is per task, so two tasks on one CPU that each map
    one page both get slot 0 (UP: FIX_KMAP_BEGIN 3, 0xffffc000) and each reads its own page: clean."""
    sc = load_toml_text(TWO_TASKS, "t.toml")
    res, rec = run_once(sc, sc.config(), DefaultStrategy(), trace=True)
    assert res.status == "done" and res.findings == []
    maps = [(r["context"], r["type"], r["idx"], r["vaddr"]) for r in rec.records if r["kind"] == "kmap_atomic"]
    assert maps == [("first", "kmap_local_page", 0, vaddr(0, UP_KMAP_BEGIN)),
                    ("second", "kmap_local_page", 0, vaddr(0, UP_KMAP_BEGIN))]
    assert vaddr(0, UP_KMAP_BEGIN) == 0xFFFFC000


def test_profile_5_11_sched_out_clears_and_sched_in_restores() -> None:
    """5.15 kernel/sched/core.c prepare_task_switch -> __kmap_local_sched_out (clear and flush every held slot,
    pteval kept) and finish_task_switch -> __kmap_local_sched_in (set_pte_at each pteval again)."""
    sc = load_toml_text(TWO_TASKS, "t.toml")
    res, rec = run_once(sc, sc.config(), DefaultStrategy(), trace=True)
    v = vaddr(0, UP_KMAP_BEGIN)
    first_pte = None
    seq = []
    for r in rec.records:
        if r["kind"] == "context" and r["what"] in ("switch_out", "switch_in", "start", "end"):
            seq.append((r["what"], r["context"]))
        elif r["kind"] in ("set_pte", "pte_clear"):
            assert r["vaddr"] == v
            seq.append((r["kind"], r["context"]))
            if r["kind"] == "set_pte" and r["context"] == "first" and first_pte is None:
                first_pte = r["new"]
    assert seq == [
        ("start", "first"),
        ("set_pte", "first"),          # kmap_local_page
        ("switch_out", "first"),
        ("pte_clear", "first"),        # sched_out of the outgoing task
        ("start", "second"),
        ("set_pte", "second"),         # second's own map of slot 0
        ("pte_clear", "second"),       # its kunmap_local
        ("end", "second"),
        ("switch_in", "first"),
        ("set_pte", "first"),          # sched_in of the incoming task: the saved pteval
        ("pte_clear", "first"),        # first's kunmap_local
        ("end", "first"),
    ]
    restores = [r for r in rec.records if r["kind"] == "set_pte" and r["context"] == "first"]
    assert [r["new"] for r in restores] == [first_pte, first_pte]
    clears = [r for r in rec.records if r["kind"] == "pte_clear" and r["context"] == "first"]
    assert [r["old"] for r in clears] == [first_pte, first_pte]


def test_profile_5_11_kmap_local_preempt_builtin_is_clean_with_preemption(monkeypatch: pytest.MonkeyPatch) -> None:
    """5.15 mm/highmem.c __kmap_local_pfn_prot: the holder stays preemptible (migration disabled only); with
    PREEMPT=y the builtin kmap-local-preempt is clean over an exhaustive search (2 preemptions), and the
    search really preempts holders inside their kmap_local window."""
    sc = load_builtin("kmap-local-preempt")
    ex, traces = _traced_exhaustive(sc, monkeypatch, schedules=1000, max_preemptions=2)
    assert ex.exhausted
    assert dict(ex.counts) == {}
    inside, _outside = _preemptions(traces)
    assert inside > 0


def _as_kmap_atomic(text: str) -> str:
    for page in ("P", "Q"):
        text = text.replace(f'{{ op = "kmap_local_page", page = "{page}", as = "v" }}',
                            f'{{ op = "kmap_atomic", page = "{page}", type = "KM_USER0", as = "v" }}')
    return text.replace('{ op = "kunmap_local", addr = "v" }',
                        '{ op = "kunmap_atomic", addr = "v", type = "KM_USER0" }')


def test_profile_5_11_kmap_atomic_is_never_preempted(monkeypatch: pytest.MonkeyPatch) -> None:
    """5.15 include/linux/highmem-internal.h kmap_atomic_prot: preempt_disable() + pagefault_disable() around
    the kmap_local, until kunmap_atomic: the same workload written with kmap_atomic is never preempted inside
    its window under exhaustive search (preemption happens only outside), and is clean."""
    text = (resources.files("highmem.scenarios") / "builtin" / "kmap-local-preempt.toml").read_text(encoding="utf-8")
    sc = load_toml_text(_as_kmap_atomic(text), "t.toml")
    ex, traces = _traced_exhaustive(sc, monkeypatch, schedules=1000, max_preemptions=2)
    assert ex.exhausted and dict(ex.counts) == {}
    inside, outside = _preemptions(traces)
    assert inside == 0 and outside > 0


def test_profile_5_11_kmap_atomic_raises_preempt_count() -> None:
    """5.15 include/linux/highmem-internal.h: kmap_atomic = preempt_disable (1 level) + pagefault_disable,
    which counts in current->pagefault_disabled, not in the preempt count (include/linux/uaccess.h), even
    for a lowmem page; kmap_local_page leaves both at 0."""
    m = highmem.boot("linux-5.11")
    high, low = m.alloc_highpage(), m.page(0x1000)
    v = m.kmap_local_page(high)
    d = m.current.data
    assert (d.get("preempt_count", 0), d.get("pagefault_disabled", 0)) == (0, 0)
    w = m.kmap_atomic(low, "KM_USER0")
    assert (d["preempt_count"], d["pagefault_disabled"]) == (1, 1)
    m.kunmap_atomic(w)
    m.kunmap_local(v)
    assert (d["preempt_count"], d["pagefault_disabled"]) == (0, 0)


def test_profile_5_11_debug_kmap_local_odd_slots_and_guard_pages() -> None:
    """5.15 mm/highmem.c: KM_INCR 2 with DEBUG_KMAP_LOCAL: the first map uses slot 1 (0xfffba000), the second
    slot 3; the even slots 0 and 2 are never mapped (guard pages, PTE none)."""
    m = highmem.boot("linux-5.11", config={"DEBUG_KMAP_LOCAL": True})
    a, b = m.alloc_highpage(), m.alloc_highpage()
    assert m.kmap_local_page(a) == vaddr(1) == 0xFFFBA000
    assert m.kmap_local_page(b) == vaddr(3)
    assert pte(m, 0) == 0 and pte(m, 2) == 0
    assert pte(m, 1) != 0 and pte(m, 3) != 0


def test_profile_5_11_debug_sixteen_nested_maps_then_bug() -> None:
    """5.15 mm/highmem.c kmap_local_idx_push (derived, kernel-facts 4): with KM_MAX_IDX 33 and KM_INCR 2,
    16 nested maps use slots 1..31 and the 17th push reaches 34 and BUGs."""
    m = highmem.boot("linux-5.11", config={"DEBUG_KMAP_LOCAL": True})
    page = m.alloc_highpage()
    addrs = [m.kmap_local_page(page) for _ in range(16)]
    assert addrs == [vaddr(2 * i + 1) for i in range(16)]
    with pytest.raises(KernelBUG, match=r"^kernel BUG in kmap_local_idx_push: the kmap_local stack of init is full "
                       r"\(KM_MAX_IDX 33\)$"):
        m.kmap_local_page(page)


def test_profile_5_11_fifteen_nested_maps_then_bug() -> None:
    """5.15 mm/highmem.c kmap_local_idx_push: BUG_ON(idx >= KM_MAX_IDX) unconditionally, so a non-debug task
    holds at most 15 maps (slots 0..14); the 16th push BUGs and slot 15 is never used."""
    m = highmem.boot("linux-5.11")
    page = m.alloc_highpage()
    addrs = [m.kmap_local_page(page) for _ in range(15)]
    assert addrs == [vaddr(i) for i in range(15)]
    assert addrs[-1] == 0xFFFAD000
    with pytest.raises(KernelBUG) as e:
        m.kmap_local_page(page)
    assert str(e.value) == "kernel BUG in kmap_local_idx_push: the kmap_local stack of init is full (KM_MAX_IDX 16)"
    assert pte(m, 15) == 0


def test_profile_5_11_pop_underflow_bugs() -> None:
    """5.15 mm/highmem.c kmap_local_idx_pop: BUG_ON(idx < 0) in every build."""
    m = highmem.boot("linux-5.11")
    with pytest.raises(KernelBUG, match=r"^kernel BUG in kmap_local_idx_pop: the kmap_local stack of init "
                       r"underflowed$"):
        m.kunmap_local(vaddr(0))


def test_profile_5_11_lowmem_page_is_page_address_unless_force_map() -> None:
    """5.15 mm/highmem.c __kmap_local_page_prot step 1: a lowmem page returns page_address (no push) unless
    DEBUG_KMAP_LOCAL_FORCE_MAP, which maps it through the fixmap too (and selects DEBUG_KMAP_LOCAL: slot 1)."""
    m = highmem.boot("linux-5.11")
    low = m.page(0x1000)
    assert m.kmap_local_page(low) == 0xC1000000
    forced = highmem.boot("linux-5.11", config={"DEBUG_KMAP_LOCAL_FORCE_MAP": True})
    v = forced.kmap_local_page(forced.page(0x1000))
    assert v == vaddr(1)
    assert forced.load(v, 4) == forced.page_bytes(forced.page(0x1000), 0, 4)
    assert (pte(forced, 1) >> 12) == 0x1000


def test_profile_5_11_force_map_unmap_of_direct_address_warns() -> None:
    """5.15 mm/highmem.c kunmap_local_indexed step 1: with FORCE_MAP an address outside the kmap area is a
    WARN_ON_ONCE (finding kernel-warning) and nothing is popped."""
    m = highmem.boot("linux-5.11", config={"DEBUG_KMAP_LOCAL_FORCE_MAP": True})
    ev: list[Any] = []
    m.subscribe(ev.append)
    m.kunmap_local(0xC1000000)
    m.kunmap_local(0xC1000000)
    assert [e.message for e in ev if isinstance(e, Warn)] == [
        "WARNING in kunmap_local_indexed on CPU 0: 0xc1000000 is not a kmap_local address"]


def test_profile_5_11_kmap_local_wrong_order_builtin() -> None:
    """5.15 mm/highmem.c kunmap_local_indexed: an out-of-order kunmap_local clears the top slot (B's) and
    flushes A's address: builtin kmap-local-wrong-order gives unmap-order (UP: slots at 0xffffc000 and
    0xffffb000)."""
    sc = load_builtin("kmap-local-wrong-order")
    res, rec = run_once(sc, sc.config(), DefaultStrategy(), trace=True)
    assert "unmap-order" in [f.kind for f in res.findings]
    f = next(f for f in res.findings if f.kind == "unmap-order")
    assert f.contexts == ["unordered"]
    assert f.slot == {"type": "kmap_local_page", "idx": 0, "fixmap": UP_KMAP_BEGIN,
                      "vaddr": vaddr(0, UP_KMAP_BEGIN)}
    first_unmap = next(r for r in rec.records if r["kind"] == "kunmap_atomic")
    assert (first_unmap["vaddr"], first_unmap["idx"]) == (vaddr(0, UP_KMAP_BEGIN), 1)
    clear = next(r for r in rec.records if r["kind"] == "pte_clear")
    assert clear["vaddr"] == vaddr(1, UP_KMAP_BEGIN) == 0xFFFFB000
    ex = explore(sc, sc.config(), strategy="exhaustive", schedules=50, do_shrink=False)
    assert "unmap-order" in ex.counts


def test_profile_5_11_interrupt_pushes_on_the_interrupted_tasks_stack() -> None:
    """5.15 mm/highmem.c (kernel-facts 4): interrupts push onto the interrupted task's kmap_ctrl, so a handler
    interrupting a task that holds slot 0 gets slot 1 (UP: 0xffffb000), and pops it before returning."""
    sc = load_toml_text(UP + """
[pages]
A = { fill = "a" }
B = { fill = "b" }

[[task]]
name = "t"
ops = [
  { op = "kmap_local_page", page = "A", as = "a" },
  { op = "raise_irq", irq = "h" },
  { op = "load", addr = "a", size = 2, expect = "aa" },
  { op = "kunmap_local", addr = "a" },
]

[[irq]]
name = "h"
max = 0
ops = [
  { op = "kmap_local_page", page = "B", as = "b" },
  { op = "load", addr = "b", size = 2, expect = "bb" },
  { op = "kunmap_local", addr = "b" },
]
""", "t.toml")
    res, rec = run_once(sc, sc.config(), DefaultStrategy(), trace=True)
    assert res.status == "done" and res.findings == []
    assert [(r["kind"], r["context"], r["idx"], r["vaddr"]) for r in rec.records
            if r["kind"] in ("kmap_atomic", "kunmap_atomic")] == [
        ("kmap_atomic", "t", 0, vaddr(0, UP_KMAP_BEGIN)),
        ("kmap_atomic", "h#1", 1, vaddr(1, UP_KMAP_BEGIN)),
        ("kunmap_atomic", "h#1", 1, vaddr(1, UP_KMAP_BEGIN)),
        ("kunmap_atomic", "t", 0, vaddr(0, UP_KMAP_BEGIN)),
    ]


def test_profile_5_11_kunmap_local_below_page_offset_warns() -> None:
    """5.15 mm/highmem.c kunmap_local_indexed step 1: a user address (below PAGE_OFFSET) is a WARN_ON_ONCE
    and a no-op."""
    m = highmem.boot("linux-5.11")
    ev: list[Any] = []
    m.subscribe(ev.append)
    m.kunmap_local(0x08048000)
    assert [e.message for e in ev if isinstance(e, Warn)] == [
        "WARNING in kunmap_local_indexed on CPU 0: 0x08048000 is below PAGE_OFFSET"]


LOWMEM_ATOMIC = """
[machine]
profile = "linux-5.11"
cpus = 1
nr_cpus = 1
config = { SMP = false, PREEMPT = true }

[pages]
L = { zone = "normal", fill = "l" }

[[task]]
name = "holder"
ops = [
  { op = "work", steps = 1 },
  { op = "kmap_atomic", page = "L", type = "KM_USER0", as = "a" },
  { op = "work", steps = 2 },
  { op = "kunmap_atomic", addr = "a", type = "KM_USER0" },
  { op = "work", steps = 1 },
]

[[task]]
name = "other"
ops = [{ op = "work", steps = 1 }]
"""


def test_profile_5_11_kmap_atomic_of_lowmem_page_is_never_preempted(monkeypatch: pytest.MonkeyPatch) -> None:
    """5.15 include/linux/highmem-internal.h kmap_atomic: preempt_disable() and pagefault_disable() come first,
    so even a lowmem page (returned by page_address) is held with preemption disabled until kunmap_atomic."""
    sc = load_toml_text(LOWMEM_ATOMIC, "t.toml")
    ex, traces = _traced_exhaustive(sc, monkeypatch, schedules=500, max_preemptions=2)
    assert ex.exhausted and dict(ex.counts) == {}
    inside, outside = _preemptions_any(traces, "holder")
    assert inside == 0 and outside > 0


def _preemptions_any(traces: list[Any], ctx: str) -> tuple[int, int]:
    """(preemptions of ``ctx`` between its kmap_atomic and kunmap_atomic events, any idx; preemptions outside)."""
    inside = outside = 0
    for recs in traces:
        holding = False
        for r in recs:
            if r.get("context") != ctx:
                continue
            if r["kind"] == "kmap_atomic":
                holding = True
            elif r["kind"] == "kunmap_atomic":
                holding = False
            elif r["kind"] == "context" and r["what"] == "switch_out" and r["detail"] == "preempt":
                if holding:
                    inside += 1
                else:
                    outside += 1
    return inside, outside
