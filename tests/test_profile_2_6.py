"""Profile linux-2.6: 2.6.32 kmap_atomic with fixed km_type slots (arch/x86/mm/highmem_32.c, mm/highmem.c).

kernel-facts.md 2.2/2.3.  Slot numbers: 19 types (include/asm-generic/kmap_types.h, KM_USER0 = 3,
KM_IRQ0 = 9), FIX_KMAP_BEGIN = 69 for the default SMP + PCI_MMCONFIG config (FIX_HOLE, FIX_VDSO,
FIX_DBGP_BASE, FIX_EARLYCON_MEM_BASE, FIX_APIC_BASE, 64 IO-APICs), FIXADDR_TOP = 0xfffff000, so slot
(type t, cpu c) is fixmap 69 + t + 19c at 0xfffff000 - fixmap * 4096.  2.6.32 lowmem ends at MAXMEM =
0x377fe000 (test_profiles_layout), so the first high frame is 0x377fe.
"""

from __future__ import annotations

from typing import Any

import pytest

import highmem
from highmem.errors import KernelBUG
from highmem.events import KmapAtomic, KunmapAtomic, PteClear, SetPte, TlbFlushOne, Warn
from highmem.scenarios import load_builtin, load_toml_text
from highmem.scenarios.model import Scenario
from highmem.sim import explore as explore_mod
from highmem.sim.explore import explore, run_once
from highmem.sim.strategy import DefaultStrategy

FIX_KMAP_BEGIN = 69
KM_TYPE_NR = 19
KM = {"KM_BOUNCE_READ": 0, "KM_USER0": 3, "KM_USER1": 4, "KM_IRQ0": 9, "KM_SOFTIRQ0": 11}
HIGH0 = 0x377FE
PTE_FLAGS = 0x163      # PAGE_KERNEL | _PAGE_GLOBAL


def fixmap(t: str, cpu: int = 0) -> int:
    return FIX_KMAP_BEGIN + KM[t] + KM_TYPE_NR * cpu


def vaddr(t: str, cpu: int = 0) -> int:
    """__fix_to_virt(FIX_KMAP_BEGIN + idx) with FIXADDR_TOP 0xfffff000 (2.6.32 fixmap.h)."""
    return 0xFFFFF000 - fixmap(t, cpu) * 0x1000


def _load(text: str) -> Scenario:
    return load_toml_text(text, "t.toml")


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


def test_profile_2_6_slot_address_formula() -> None:
    """2.6.32 arch/x86/mm/highmem_32.c kmap_atomic_prot: idx = type + KM_TYPE_NR*cpu, vaddr =
    __fix_to_virt(FIX_KMAP_BEGIN + idx): KM_USER0 on CPU 0 is fixmap 72 at 0xfffb7000, on CPU 1 fixmap 91."""
    m = highmem.boot("linux-2.6")
    assert m.kmap_slot(0, "KM_USER0") == (72, 0xFFFB7000) == (fixmap("KM_USER0"), vaddr("KM_USER0"))
    assert m.kmap_slot(1, "KM_USER0") == (91, 0xFFFA4000)


def test_profile_2_6_kmap_atomic_raises_preempt_count() -> None:
    """2.6.32 arch/x86/mm/highmem_32.c kmap_atomic_prot step 1: pagefault_disable() (include/linux/uaccess.h:
    preempt count + 1), before the lowmem shortcut too; kunmap_atomic ends with pagefault_enable()."""
    m = highmem.boot("linux-2.6")
    high, low = m.alloc_highpage(), m.page(0x2000)
    assert m.current.data.get("preempt_count", 0) == 0
    v = m.kmap_atomic(high, "KM_USER0")
    assert m.current.data["preempt_count"] == 1
    w = m.kmap_atomic(low, "KM_USER1")
    assert w == 0xC2000000
    assert m.current.data["preempt_count"] == 2
    m.kunmap_atomic(w, "KM_USER1")
    m.kunmap_atomic(v, "KM_USER0")
    assert m.current.data["preempt_count"] == 0


PREEMPT_HOLDER = """
[machine]
profile = "linux-2.6"
cpus = 1
nr_cpus = 1
memory = "1G"
config = { SMP = false, PREEMPT = true }

[pages]
A = { fill = "a" }

[[task]]
name = "holder"
ops = [
  { op = "work", steps = 2 },
  { op = "kmap_atomic", page = "A", type = "KM_USER0", as = "a" },
  { op = "work", steps = 2 },
  { op = "load", addr = "a", size = 1, expect = "a" },
  { op = "kunmap_atomic", addr = "a", type = "KM_USER0" },
  { op = "work", steps = 2 },
]

[[task]]
name = "other"
ops = [{ op = "work", steps = 2 }]
"""


def test_profile_2_6_preempt_never_preempts_a_kmap_atomic_holder(monkeypatch: pytest.MonkeyPatch) -> None:
    """2.6.32 arch/x86/mm/highmem_32.c: with CONFIG_PREEMPT the raised preempt count keeps the holder on its
    CPU from kmap_atomic to kunmap_atomic; an exhaustive search (2 preemptions) finds preemptions before and
    after the window but never inside it, and every schedule is clean."""
    ex, traces = _traced_exhaustive(_load(PREEMPT_HOLDER), monkeypatch, schedules=500, max_preemptions=2,
                                    max_interrupts=0)
    assert ex.exhausted and dict(ex.counts) == {}
    preempted_outside = 0
    for recs in traces:
        holding = False
        for r in recs:
            if r.get("context") != "holder":
                continue
            if r["kind"] == "kmap_atomic":
                holding = True
            elif r["kind"] == "kunmap_atomic":
                holding = False
            elif r["kind"] == "context" and r["what"] == "switch_out" and r["detail"] == "preempt":
                assert not holding
                preempted_outside += 1
    assert preempted_outside > 0


def test_profile_2_6_busy_slot_bugs_without_debug() -> None:
    """2.6.32 arch/x86/mm/highmem_32.c kmap_atomic_prot step 5: BUG_ON(!pte_none(*(kmap_pte-idx)))
    unconditionally (no DEBUG_HIGHMEM needed)."""
    m = highmem.boot("linux-2.6")
    assert not m.DEBUG_HIGHMEM
    a, b = m.alloc_highpage(), m.alloc_highpage()
    m.kmap_atomic(a, "KM_USER0")
    with pytest.raises(KernelBUG) as e:
        m.kmap_atomic(b, "KM_USER0")
    assert str(e.value) == ("kernel BUG in kmap_atomic_prot: slot KM_USER0 of CPU 0 (fixmap 72, 0xfffb7000) "
                            "is already mapped")
    assert e.value.function == "kmap_atomic_prot"


def test_profile_2_6_map_sets_pte_without_tlb_flush() -> None:
    """2.6.32 arch/x86/mm/highmem_32.c kmap_atomic_prot step 6: set the PTE, no TLB flush on map (the slot
    was flushed when it was cleared)."""
    m = highmem.boot("linux-2.6")
    page = m.alloc_highpage()
    ev: list[Any] = []
    m.subscribe(ev.append)
    v = m.kmap_atomic(page, "KM_USER1")
    assert v == vaddr("KM_USER1")
    ptep = m.kmap_pte - KM["KM_USER1"] * m.pte_size
    assert ev == [
        SetPte(0, "init", ptep, v, 0, (HIGH0 << 12) | PTE_FLAGS),
        KmapAtomic(0, "init", "KM_USER1", KM["KM_USER1"], v, HIGH0),
    ]
    assert not any(isinstance(e, TlbFlushOne) for e in ev)


def test_profile_2_6_kunmap_always_clears_and_flushes() -> None:
    """2.6.32 arch/x86/mm/highmem_32.c kunmap_atomic step 2: kpte_clear_flush (clear the PTE and
    __flush_tlb_one) in every build, debug or not; the slot is free again."""
    m = highmem.boot("linux-2.6")
    page = m.alloc_highpage()
    v = m.kmap_atomic(page, "KM_USER0")
    assert m.load(v, 1) == b"\0"        # the TLB now caches the slot
    ev: list[Any] = []
    m.subscribe(ev.append)
    m.kunmap_atomic(v + 0x10, "KM_USER0")
    ptep = m.kmap_pte - KM["KM_USER0"] * m.pte_size
    assert ev == [
        PteClear(0, "init", ptep, v, (HIGH0 << 12) | PTE_FLAGS),
        TlbFlushOne(0, "init", v, True),
        KunmapAtomic(0, "init", "KM_USER0", KM["KM_USER0"], v + 0x10, True),
    ]
    assert m.kmap_atomic(page, "KM_USER0") == v       # free: no BUG


def test_profile_2_6_wrong_type_unmap_leaves_slot_mapped_and_next_map_bugs() -> None:
    """2.6.32 arch/x86/mm/highmem_32.c kunmap_atomic step 3 (derived): an address that is not the type's slot
    is ignored without DEBUG_HIGHMEM, so the real slot stays mapped and the next kmap_atomic of it BUGs at
    step 5 even in a non-debug kernel; the preempt count is dropped either way (pagefault_enable)."""
    m = highmem.boot("linux-2.6")
    a, b = m.alloc_highpage(), m.alloc_highpage()
    v = m.kmap_atomic(a, "KM_USER0")
    ev: list[Any] = []
    m.subscribe(ev.append)
    m.kunmap_atomic(v, "KM_USER1")
    assert ev == [KunmapAtomic(0, "init", "KM_USER1", -1, v, False)]
    frame, off = m.kmap_pte_at[KM["KM_USER0"]]
    assert m.pte_struct.unpack_from(frame, off)[0] == (HIGH0 << 12) | PTE_FLAGS
    assert m.current.data["preempt_count"] == 0
    with pytest.raises(KernelBUG, match=r"^kernel BUG in kmap_atomic_prot: slot KM_USER0 of CPU 0 \(fixmap 72, "
                       r"0xfffb7000\) is already mapped$"):
        m.kmap_atomic(b, "KM_USER0")


def test_profile_2_6_wrong_type_unmap_bugs_with_debug() -> None:
    """2.6.32 arch/x86/mm/highmem_32.c kunmap_atomic step 3, debug: BUG if the address is neither the type's
    slot nor a lowmem address (fences: KM_USER1 = 9, KM_TYPE_NR 39)."""
    m = highmem.boot("linux-2.6", config={"DEBUG_HIGHMEM": True})
    v = m.kmap_atomic(m.alloc_highpage(), "KM_USER0")
    assert v == 0xFFFFF000 - (FIX_KMAP_BEGIN + 7) * 0x1000
    with pytest.raises(KernelBUG) as e:
        m.kunmap_atomic(v, "KM_USER1")
    assert str(e.value) == (f"kernel BUG in kunmap_atomic: address {v:#010x} is neither the slot of KM_USER1 on "
                            "CPU 0 nor a lowmem address")


def test_profile_2_6_kmap_atomic_to_page() -> None:
    """2.6.32 arch/x86/mm/highmem_32.c kmap_atomic_to_page: a slot address gives the page in its PTE
    (kmap_pte - (virt_to_fix(vaddr) - FIX_KMAP_BEGIN)); a lowmem address gives virt_to_page."""
    m = highmem.boot("linux-2.6")
    a, b = m.alloc_highpage(), m.alloc_highpage()
    va = m.kmap_atomic(a, "KM_USER0")
    vb = m.kmap_atomic(b, "KM_IRQ0")
    assert m.kmap_atomic_to_page(va + 0x123).pfn == a.pfn == HIGH0
    assert m.kmap_atomic_to_page(vb).pfn == b.pfn == HIGH0 + 1
    assert m.kmap_atomic_to_page(0xC0345678).pfn == 0x345


def _debug_run(text: str) -> Any:
    sc = _load("""
[machine]
profile = "linux-2.6"
config = { DEBUG_HIGHMEM = true }
""" + text)
    return run_once(sc, sc.config(), DefaultStrategy(), trace=True)


def test_profile_2_6_debug_km_user0_in_hardirq_is_wrong_context() -> None:
    """2.6.32 mm/highmem.c debug_kmap_atomic check A: in hard-IRQ context only KM_IRQ0/1, KM_BIO_SRC/DST_IRQ,
    KM_BOUNCE_READ and KM_IRQ_PTE are allowed; KM_USER0 there WARNs (finding wrong-context)."""
    res, rec = _debug_run("""
[pages]
A = { fill = "a" }

[[task]]
name = "t"
ops = [{ op = "raise_irq", irq = "h" }, { op = "work", steps = 2 }]

[[irq]]
name = "h"
max = 0
ops = [
  { op = "kmap_atomic", page = "A", type = "KM_USER0", as = "a" },
  { op = "kunmap_atomic", addr = "a", type = "KM_USER0" },
]
""")
    warn = ("WARNING in debug_kmap_atomic on CPU 0: KM_USER0 used in hard-IRQ context (only KM_IRQ0/1, KM_BIO_*_IRQ, "
            "KM_BOUNCE_READ, KM_IRQ_PTE are allowed there)")
    assert res.status == "done"
    assert [(f.kind, f.message, f.contexts) for f in res.findings] == [("wrong-context", f"h#1 on CPU 0: {warn}",
                                                                        ["h#1"])]
    assert [(r["context"], r["function"], r["message"]) for r in rec.records if r["kind"] == "warn"] == [
        ("h#1", "debug_kmap_atomic", warn)]


def test_profile_2_6_debug_irq_type_with_irqs_enabled_is_wrong_context() -> None:
    """2.6.32 mm/highmem.c debug_kmap_atomic check B: KM_IRQ0 is an interrupt slot and WARNs when interrupts
    are enabled, even in process context."""
    res, _ = _debug_run("""
[pages]
A = { fill = "a" }

[[task]]
name = "t"
ops = [
  { op = "kmap_atomic", page = "A", type = "KM_IRQ0", as = "a" },
  { op = "kunmap_atomic", addr = "a", type = "KM_IRQ0" },
]
""")
    assert [(f.kind, f.message) for f in res.findings] == [(
        "wrong-context",
        "t on CPU 0: WARNING in debug_kmap_atomic on CPU 0: KM_IRQ0 is an interrupt slot but interrupts are enabled")]


def test_profile_2_6_debug_irq_type_with_irqs_disabled_is_fine() -> None:
    """2.6.32 mm/highmem.c debug_kmap_atomic check B: KM_IRQ0 under local_irq_save passes; nothing reported."""
    res, rec = _debug_run("""
[pages]
A = { fill = "a" }

[[task]]
name = "t"
ops = [
  { op = "local_irq_save", as = "f" },
  { op = "kmap_atomic", page = "A", type = "KM_IRQ0", as = "a" },
  { op = "load", addr = "a", size = 1, expect = "a" },
  { op = "kunmap_atomic", addr = "a", type = "KM_IRQ0" },
  { op = "local_irq_restore", flags = "f" },
]
""")
    assert res.status == "done" and res.findings == []
    assert not any(r["kind"] == "warn" for r in rec.records)


def test_profile_2_6_debug_softirq_type_checks() -> None:
    """2.6.32 mm/highmem.c debug_kmap_atomic check B: KM_SOFTIRQ0 WARNs when irq_count() == 0 and interrupts
    are enabled; with bottom halves disabled (irq_count() != 0) it passes."""
    m = highmem.boot("linux-2.6", config={"DEBUG_HIGHMEM": True})
    ev: list[Any] = []
    m.subscribe(ev.append)
    page = m.alloc_highpage()
    m.local_bh_disable()
    m.kunmap_atomic(m.kmap_atomic(page, "KM_SOFTIRQ0"), "KM_SOFTIRQ0")
    m.local_bh_enable()
    assert not any(isinstance(e, Warn) for e in ev)
    m.kunmap_atomic(m.kmap_atomic(page, "KM_SOFTIRQ0"), "KM_SOFTIRQ0")
    assert [e.message for e in ev if isinstance(e, Warn)] == [
        "WARNING in debug_kmap_atomic on CPU 0: KM_SOFTIRQ0 is a softirq slot but neither softirqs nor interrupts "
        "are disabled"]


def test_profile_2_6_debug_kmap_atomic_falls_silent() -> None:
    """2.6.32 mm/highmem.c debug_kmap_atomic: static warn_count = 10; return at once when warn_count < 0;
    each WARN_ON(1) is followed by warn_count--.  So single-warning misuses warn with the count at
    10, 9, ..., 0 (11 warnings) and the 12th misuse, with the count at -1, is silent."""
    m = highmem.boot("linux-2.6", config={"DEBUG_HIGHMEM": True})
    ev: list[Any] = []
    m.subscribe(ev.append)
    page = m.alloc_highpage()
    counts = []
    for _ in range(13):
        m.kunmap_atomic(m.kmap_atomic(page, "KM_IRQ0"), "KM_IRQ0")
        counts.append(sum(isinstance(e, Warn) for e in ev))
    assert counts == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 11, 11]


def test_profile_2_6_debug_off_never_warns() -> None:
    """2.6.32 include/linux/highmem.h: without CONFIG_DEBUG_HIGHMEM debug_kmap_atomic is an empty inline."""
    m = highmem.boot("linux-2.6")
    ev: list[Any] = []
    m.subscribe(ev.append)
    m.kunmap_atomic(m.kmap_atomic(m.alloc_highpage(), "KM_IRQ0"), "KM_IRQ0")
    assert not any(isinstance(e, Warn) for e in ev)


def test_profile_2_6_km_irq_collision_builtin() -> None:
    """LKML 'kmap_atomic slot collision' (Dec 2005), 2.6.32 arch/x86/mm/highmem_32.c: builtin
    km-irq-collision-2005 BUGs in the handler on the busy KM_IRQ0 slot (fixmap 69 + 9 = 78, 0xfffb1000):
    slot-in-use, naming the careless task; nothing else."""
    sc = load_builtin("km-irq-collision-2005")
    ex = explore(sc, sc.config(), strategy="pct", schedules=100, seed=0, do_shrink=False)
    assert set(ex.counts) == {"slot-in-use"}
    f = ex.by_kind["slot-in-use"].finding
    assert f.message == ("mlx#1 on CPU 0: kernel BUG in kmap_atomic_prot: slot KM_IRQ0 of CPU 0 (fixmap 78, "
                         "0xfffb1000) is already mapped")
    assert f.contexts == ["mlx#1", "careless"]


def test_profile_2_6_km_irq_collision_builtin_debug_flags_the_task() -> None:
    """2.6.32 mm/highmem.c debug_kmap_atomic check B flags the careless task's KM_IRQ0 map with interrupts
    enabled deterministically (every schedule): wrong-context."""
    sc = load_builtin("km-irq-collision-2005")
    ex = explore(sc, sc.config(None, ["DEBUG_HIGHMEM=y"]), strategy="pct", schedules=100, seed=0, do_shrink=False)
    assert "wrong-context" in ex.counts
    assert ex.counts["wrong-context"] == 100
    assert ex.by_kind["wrong-context"].finding.message == (
        "careless on CPU 0: WARNING in debug_kmap_atomic on CPU 0: KM_IRQ0 is an interrupt slot but interrupts are "
        "enabled")
    assert set(ex.counts) <= {"wrong-context", "slot-in-use"}
