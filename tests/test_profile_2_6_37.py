"""Profile linux-2.6.37: the per-CPU stack of kmap_atomic slots, as 2.6.39 has it.

kernel-facts.md 3: include/linux/highmem.h kmap_atomic_idx_push / kmap_atomic_idx / kmap_atomic_idx_pop,
arch/x86/mm/highmem_32.c kmap_atomic_prot / __kunmap_atomic (2.6.39); commit 3e4d3af501cc and the fix
20273941f212.  slot = per-CPU depth - 1, idx = slot + KM_TYPE_NR*cpu, vaddr = __fix_to_virt(FIX_KMAP_BEGIN +
idx) = 0xfffff000 - (69 + idx) * 4096 (FIX_KMAP_BEGIN 69 as in 2.6.32's default config).  KM_TYPE_NR is 20,
41 with DEBUG_HIGHMEM's fences (2.6.39 include/asm-generic/kmap_types.h).  First high frame 0x377fe.
"""

from __future__ import annotations

from typing import Any

import pytest

import highmem
from highmem.errors import KernelBUG
from highmem.events import KmapAtomic, KunmapAtomic, PteClear, TlbFlushOne, Warn
from highmem.scenarios import load_builtin, load_toml_text
from highmem.sim.explore import explore, run_once
from highmem.sim.strategy import DefaultStrategy

FIX_KMAP_BEGIN = 69
HIGH0 = 0x377FE
PTE_FLAGS = 0x163


def vaddr(idx: int) -> int:
    """2.6.39 arch/x86/mm/highmem_32.c: __fix_to_virt(FIX_KMAP_BEGIN + idx), FIXADDR_TOP 0xfffff000."""
    return 0xFFFFF000 - (FIX_KMAP_BEGIN + idx) * 0x1000


def pte(m: highmem.Machine, idx: int) -> int:
    frame, off = m.kmap_pte_at[idx]
    return int(m.pte_struct.unpack_from(frame, off)[0])


def test_profile_2_6_37_nested_maps_use_slots_0_1_2() -> None:
    """2.6.39 include/linux/highmem.h kmap_atomic_idx_push: each map pushes; slots 0, 1, 2 of CPU 0 are
    fixmap 69, 70, 71 (0xfffba000, 0xfffb9000, 0xfffb8000); on CPU 1 slot 0 is idx 20 (fixmap 89)."""
    m = highmem.boot("linux-2.6.37")
    pages = [m.alloc_highpage() for _ in range(4)]
    got = [m.kmap_atomic(p, "KM_USER0") for p in pages[:3]]
    assert got == [vaddr(0), vaddr(1), vaddr(2)] == [0xFFFBA000, 0xFFFB9000, 0xFFFB8000]
    assert [pte(m, i) for i in range(3)] == [((HIGH0 + i) << 12) | PTE_FLAGS for i in range(3)]
    with m.process(1, "t1"):
        assert m.kmap_atomic(pages[3], "KM_USER0") == vaddr(20) == 0xFFFA6000


@pytest.mark.parametrize("type_", ["KM_USER0", "KM_IRQ0", "KM_BH_IRQ", "KM_KDB", None],
                         ids=["KM_USER0", "KM_IRQ0", "2.4-KM_BH_IRQ", "KM_KDB", "no-type"])
def test_profile_2_6_37_type_argument_is_ignored(type_: str | None) -> None:
    """2.6.39 include/linux/highmem.h: kmap_atomic(page, args...) drops the type in the preprocessor, so any
    name compiles (even 2.4's KM_BH_IRQ) and every map takes the next stack slot."""
    m = highmem.boot("linux-2.6.37")
    a, b = m.alloc_highpage(), m.alloc_highpage()
    ev: list[Any] = []
    m.subscribe(ev.append)
    assert m.kmap_atomic(a, "KM_USER1") == vaddr(0)
    assert m.kmap_atomic(b, type_) == vaddr(1)
    assert [e.idx for e in ev if isinstance(e, KmapAtomic)] == [0, 1]


def test_profile_2_6_37_type_argument_ignored_in_toml() -> None:
    """2.6.39 include/linux/highmem.h: a scenario written with 2.4 names (KM_BH_IRQ, KM_SOFTIRQ0) loads and
    runs clean on the stack profile, maps and unmaps being LIFO."""
    sc = load_toml_text("""
[machine]
profile = "linux-2.6.37"

[pages]
A = { fill = "a" }
B = { fill = "b" }

[[task]]
name = "t"
ops = [
  { op = "kmap_atomic", page = "A", type = "KM_BH_IRQ", as = "a" },
  { op = "kmap_atomic", page = "B", type = "KM_SOFTIRQ0", as = "b" },
  { op = "load", addr = "a", size = 1, expect = "a" },
  { op = "load", addr = "b", size = 1, expect = "b" },
  { op = "kunmap_atomic", addr = "b", type = "KM_SOFTIRQ0" },
  { op = "kunmap_atomic", addr = "a", type = "KM_BH_IRQ" },
]
""", "t.toml")
    res, rec = run_once(sc, sc.config(), DefaultStrategy(), trace=True)
    assert res.status == "done" and res.findings == []
    assert [(r["kind"], r["type"], r["idx"]) for r in rec.records if r["kind"] in ("kmap_atomic", "kunmap_atomic")] == [
        ("kmap_atomic", "KM_BH_IRQ", 0), ("kmap_atomic", "KM_SOFTIRQ0", 1),
        ("kunmap_atomic", "KM_SOFTIRQ0", 1), ("kunmap_atomic", "KM_BH_IRQ", 0)]


def test_profile_2_6_37_lifo_unmap_clears_each_slot() -> None:
    """2.6.39 arch/x86/mm/highmem_32.c __kunmap_atomic: peek, kpte_clear_flush the top slot, then pop; in LIFO
    order every slot ends free (PTE none) and the stack is empty."""
    m = highmem.boot("linux-2.6.37")
    a, b = m.alloc_highpage(), m.alloc_highpage()
    va = m.kmap_atomic(a)
    vb = m.kmap_atomic(b)
    m.kunmap_atomic(vb)
    m.kunmap_atomic(va)
    assert (pte(m, 0), pte(m, 1)) == (0, 0)
    assert m.__dict__["kmap_atomic_idx"][0] == 0
    assert m.kmap_atomic(b) == vaddr(0)


def test_profile_2_6_37_non_lifo_unmap_clears_the_top_slot() -> None:
    """2.6.39 arch/x86/mm/highmem_32.c __kunmap_atomic step 2c: with [A in slot 0, B in slot 1], unmapping A
    clears the *top* slot's PTE (B's, slot 1) and flushes the *passed* address (A's); A's PTE stays set."""
    m = highmem.boot("linux-2.6.37")
    a, b = m.alloc_highpage(), m.alloc_highpage()
    va = m.kmap_atomic(a)
    vb = m.kmap_atomic(b)
    ev: list[Any] = []
    m.subscribe(ev.append)
    m.kunmap_atomic(va)
    assert ev == [
        PteClear(0, "init", m.kmap_pte - 1 * m.pte_size, vb, ((HIGH0 + 1) << 12) | PTE_FLAGS),
        TlbFlushOne(0, "init", va, False),
        KunmapAtomic(0, "init", "-", 1, va, True),
    ]
    assert pte(m, 1) == 0
    assert pte(m, 0) == (HIGH0 << 12) | PTE_FLAGS
    assert m.__dict__["kmap_atomic_idx"][0] == 1


UNORDERED = """
[machine]
profile = "linux-2.6.37"

[pages]
A = { fill = "a" }
B = { fill = "b" }

[[task]]
name = "t"
ops = [
  { op = "kmap_atomic", page = "A", type = "KM_USER0", as = "a" },
  { op = "kmap_atomic", page = "B", type = "KM_USER1", as = "b" },
  { op = "kunmap_atomic", addr = "a", type = "KM_USER0" },
  { op = "kunmap_atomic", addr = "b", type = "KM_USER1" },
]
"""


def test_profile_2_6_37_non_lifo_unmap_is_unmap_order_finding() -> None:
    """2.6.39 __kunmap_atomic: LIFO is the rule; copy_user_highpage's 2.4 order (unmap USER0 first) tears down
    the other mapping.  Each out-of-order unmap is an unmap-order finding naming the slot really cleared
    (steps: map A 1, map B 2, unmap A 3, unmap B 4)."""
    sc = load_toml_text(UNORDERED, "t.toml")
    res, _ = run_once(sc, sc.config(), DefaultStrategy())
    assert res.status == "done"
    assert [f.to_dict() for f in res.findings] == [
        {"kind": "unmap-order",
         "message": f"t unmapped {vaddr(0):#010x} (its mapping of page A ({HIGH0:#x}), stack slot idx 0) out of "
                    f"LIFO order on CPU 0: the kernel cleared the top slot idx 1, which held t's mapping of page "
                    f"B ({HIGH0 + 1:#x}) (step 2), and {vaddr(0):#010x} stays mapped",
         "cpu": 0, "contexts": ["t"], "slot": {"type": "KM_USER0", "idx": 0, "fixmap": 69, "vaddr": vaddr(0)},
         "pages": [HIGH0, HIGH0 + 1], "steps": [1, 2, 3]},
        {"kind": "unmap-order",
         "message": f"t unmapped {vaddr(1):#010x} (its mapping of page B ({HIGH0 + 1:#x}), stack slot idx 1) out of "
                    f"LIFO order on CPU 0: the kernel cleared the top slot idx 0, which held t's mapping of page "
                    f"A ({HIGH0:#x}) (step 1), and {vaddr(1):#010x} stays mapped",
         "cpu": 0, "contexts": ["t"], "slot": {"type": "KM_USER1", "idx": 1, "fixmap": 70, "vaddr": vaddr(1)},
         "pages": [HIGH0 + 1, HIGH0], "steps": [2, 1, 4]},
    ]


def test_profile_2_6_37_debug_non_lifo_warns_once_and_still_unmap_order() -> None:
    """2.6.39 __kunmap_atomic step 2b: debug only, WARN_ON_ONCE if the address is not the top slot; the
    checker reports it as unmap-order (not a separate kernel-warning), debug build or not."""
    sc = load_toml_text(UNORDERED.replace('profile = "linux-2.6.37"',
                                          'profile = "linux-2.6.37"\nconfig = { DEBUG_HIGHMEM = true }'), "t.toml")
    res, rec = run_once(sc, sc.config(), DefaultStrategy(), trace=True)
    assert res.status == "done"
    assert [f.kind for f in res.findings] == ["unmap-order", "unmap-order"]
    assert [r["message"] for r in rec.records if r["kind"] == "warn"] == [
        f"WARNING in __kunmap_atomic on CPU 0: {vaddr(0):#010x} is not the top slot"]


def test_profile_2_6_37_debug_overflow_bug_is_off_by_one() -> None:
    """2.6.39 include/linux/highmem.h kmap_atomic_idx_push, debug: BUG_ON(idx > KM_TYPE_NR), not >=.  With
    DEBUG_HIGHMEM KM_TYPE_NR is 41 (fences), so 42 nested maps reach slot 41 == KM_TYPE_NR (CPU 1's slot 0,
    fixmap 110) without a BUG and the 43rd (slot 42) BUGs."""
    m = highmem.boot("linux-2.6.37", config={"DEBUG_HIGHMEM": True})
    assert m.KM_TYPE_NR == 41
    page = m.alloc_highpage()
    addrs = [m.kmap_atomic(page) for _ in range(42)]
    assert addrs[-1] == vaddr(41) == 0xFFF91000
    with pytest.raises(KernelBUG) as e:
        m.kmap_atomic(page)
    assert str(e.value) == "kernel BUG in kmap_atomic_idx_push: stack slot 42 of CPU 0 is past KM_TYPE_NR 41"


def test_profile_2_6_37_non_debug_21st_map_takes_next_cpus_slot_0() -> None:
    """2.6.39 include/linux/highmem.h (derived, kernel-facts 3): no overflow check without debug, so the 21st
    nested map on CPU 0 uses slot 20 = CPU 1's slot 0 (fixmap 89, 0xfffa6000); if CPU 1 holds that slot, the
    unconditional busy-slot BUG of kmap_atomic_prot fires."""
    m = highmem.boot("linux-2.6.37")
    page = m.alloc_highpage()
    addrs = [m.kmap_atomic(page) for _ in range(21)]
    assert addrs[:2] == [vaddr(0), vaddr(1)]
    assert addrs[20] == vaddr(20) == 0xFFFA6000
    m2 = highmem.boot("linux-2.6.37")
    p2 = m2.alloc_highpage()
    with m2.process(1, "cpu1-task"):
        assert m2.kmap_atomic(p2) == 0xFFFA6000
    for _ in range(20):
        m2.kmap_atomic(p2)
    with pytest.raises(KernelBUG) as e:
        m2.kmap_atomic(p2)
    assert str(e.value) == ("kernel BUG in kmap_atomic_prot: stack slot 20 of CPU 0 (fixmap 89, 0xfffa6000) is "
                            "already mapped")


def test_profile_2_6_37_debug_pop_underflow_bugs() -> None:
    """2.6.39 include/linux/highmem.h kmap_atomic_idx_pop, debug: BUG_ON(idx < 0) after the decrement."""
    m = highmem.boot("linux-2.6.37", config={"DEBUG_HIGHMEM": True})
    with pytest.raises(KernelBUG) as e:
        m.kunmap_atomic(vaddr(0))
    assert str(e.value) == "kernel BUG in kmap_atomic_idx_pop: the kmap_atomic stack of CPU 0 underflowed"


def test_profile_2_6_37_non_debug_pop_underflow_is_silent() -> None:
    """2.6.39 include/linux/highmem.h kmap_atomic_idx_pop: the underflow check exists only with
    DEBUG_HIGHMEM; a non-debug kernel lets the per-CPU index go to -1."""
    m = highmem.boot("linux-2.6.37")
    m.kunmap_atomic(vaddr(0))
    assert m.__dict__["kmap_atomic_idx"][0] == -1


def test_profile_2_6_37_non_debug_map_after_underflow_uses_fixmap_below_kmap_begin() -> None:
    """2.6.39 include/linux/highmem.h + arch/x86/mm/highmem_32.c (derived): after a silent underflow the next
    push returns slot -1, so idx = -1 and vaddr = __fix_to_virt(FIX_KMAP_BEGIN - 1) = 0xfffbb000 (fixmap 68),
    the page just above the kmap area, not some other CPU's slot."""
    m = highmem.boot("linux-2.6.37")
    m.kunmap_atomic(vaddr(0))
    assert m.kmap_atomic(m.alloc_highpage()) == vaddr(-1) == 0xFFFBB000


NESTED_IRQ = """
[machine]
profile = "linux-2.6.37"

[pages]
A = { fill = "a" }
B = { fill = "b" }

[[task]]
name = "t"
ops = [
  { op = "kmap_atomic", page = "A", type = "KM_USER0", as = "a" },
  { op = "raise_irq", irq = "h" },
  { op = "load", addr = "a", size = 2, expect = "aa" },
  { op = "kunmap_atomic", addr = "a", type = "KM_USER0" },
]

[[irq]]
name = "h"
max = 0
ops = [
  %s
  { op = "kmap_atomic", page = "B", type = "KM_USER0", as = "b" },
  { op = "load", addr = "b", size = 2, expect = "bb" },
  { op = "kunmap_atomic", addr = "b", type = "KM_USER0" },
]
"""


def test_profile_2_6_37_interrupts_nest_above_the_task() -> None:
    """2.6.39 kernel-facts 3 (derived): an interrupt pushes above the interrupted code's slot and pops before
    returning, so with LIFO in every context it gets slot 1 and nothing collides: clean, even when it uses
    the same type name as the task."""
    sc = load_toml_text(NESTED_IRQ % "", "t.toml")
    res, rec = run_once(sc, sc.config(), DefaultStrategy(), trace=True)
    assert res.status == "done" and res.findings == []
    assert [(r["kind"], r["context"], r["idx"]) for r in rec.records if r["kind"] in ("kmap_atomic", "kunmap_atomic")] \
        == [("kmap_atomic", "t", 0), ("kmap_atomic", "h#1", 1), ("kunmap_atomic", "h#1", 1),
            ("kunmap_atomic", "t", 0)]


def test_profile_2_6_37_interrupts_nest_under_exhaustive_search() -> None:
    """2.6.39 (derived): wherever an interrupt lands in the task's window, LIFO nesting keeps the builtin
    irq-uses-user-slot pattern clean on the stack profile (exhaustive, one interrupt)."""
    sc = load_toml_text(NESTED_IRQ.replace('max = 0', 'max = 1').replace(
        '  { op = "raise_irq", irq = "h" },\n', '  { op = "work", steps = 1 },\n') % "", "t.toml")
    ex = explore(sc, sc.config(), strategy="exhaustive", schedules=100, max_interrupts=1, do_shrink=False)
    assert ex.exhausted and ex.schedules > 2
    assert dict(ex.counts) == {}


def test_profile_2_6_37_debug_push_in_hardirq_with_irqs_on_warns_once() -> None:
    """2.6.39 include/linux/highmem.h kmap_atomic_idx_push, debug: WARN_ON_ONCE(in_irq() && !irqs_disabled())
    (handlers run with interrupts off since 2.6.35, so the handler must enable them): wrong-context."""
    sc = load_toml_text(NESTED_IRQ.replace('profile = "linux-2.6.37"',
                                           'profile = "linux-2.6.37"\nconfig = { DEBUG_HIGHMEM = true }')
                        % '{ op = "sti" },', "t.toml")
    res, rec = run_once(sc, sc.config(), DefaultStrategy(), trace=True)
    warn = "WARNING in kmap_atomic_idx_push on CPU 0: pushed in hard-IRQ context with interrupts enabled"
    assert [(f.kind, f.message) for f in res.findings] == [("wrong-context", f"h#1 on CPU 0: {warn}")]
    assert [(r["context"], r["message"]) for r in rec.records if r["kind"] == "warn"] == [("h#1", warn)]


def test_profile_2_6_37_push_warning_is_once_per_boot() -> None:
    """2.6.39 include/linux/highmem.h: WARN_ON_ONCE reports only the first hit of the call site."""
    m = highmem.boot("linux-2.6.37", config={"DEBUG_HIGHMEM": True})
    ev: list[Any] = []
    m.subscribe(ev.append)
    page = m.alloc_highpage()
    m.cpu_state[0].local_irq_count = 1          # as if in a hard-IRQ handler with interrupts on
    for _ in range(3):
        m.kunmap_atomic(m.kmap_atomic(page))
    assert sum(isinstance(e, Warn) for e in ev) == 1


def test_profile_2_6_37_pop_before_clear_builtin_bugs() -> None:
    """Commit 3e4d3af501cc (first stack-based kunmap_atomic popped before clearing): builtin
    kunmap-pop-before-clear-2010 under exhaustive search finds the interrupt that lands between pop and
    clear, gets the same slot 0 (fixmap 69), finds its PTE set and BUGs: slot-in-use."""
    sc = load_builtin("kunmap-pop-before-clear-2010")
    ex = explore(sc, sc.config(), strategy="exhaustive", schedules=300, do_shrink=False)
    assert ex.exhausted
    assert set(ex.counts) == {"slot-in-use"}
    f = ex.by_kind["slot-in-use"].finding
    assert f.message == ("scsi#1 on CPU 0: kernel BUG in kmap_atomic_prot: stack slot 0 of CPU 0 (fixmap 69, "
                         "0xfffba000) is already mapped")
    assert f.contexts == ["scsi#1", "worker"]


POP_BEFORE_CLEAR_FIXED = """
[scenario]
name = "kunmap-clear-before-pop"

[machine]
profile = "linux-2.6.37"
cpus = 2
memory = "2G"
config = { KUNMAP_POP_BEFORE_CLEAR = false }

[pages]
A = { fill = "a" }
B = { fill = "b" }

[[task]]
name = "worker"
cpu = 0
ops = [
  { op = "repeat", count = 6, ops = [
      { op = "kmap_atomic", page = "A", type = "KM_USER0", as = "v" },
      { op = "load", addr = "v", size = 2, expect = "aa" },
      { op = "kunmap_atomic", addr = "v", type = "KM_USER0" },
      { op = "work", steps = 3 },
  ] },
]

[[irq]]
name = "scsi"
cpu = 0
max = 1
ops = [
  { op = "kmap_atomic", page = "B", type = "KM_IRQ0", as = "w" },
  { op = "load", addr = "w", size = 2, expect = "bb" },
  { op = "kunmap_atomic", addr = "w", type = "KM_IRQ0" },
]
"""


def test_profile_2_6_37_clear_before_pop_is_clean() -> None:
    """Commit 20273941f212 'mm: fix race in kunmap_atomic()': peek, clear the PTE, pop last; the same workload
    with KUNMAP_POP_BEFORE_CLEAR=n is clean wherever the interrupt lands (exhaustive)."""
    sc = load_toml_text(POP_BEFORE_CLEAR_FIXED, "t.toml")
    ex = explore(sc, sc.config(), strategy="exhaustive", schedules=300, do_shrink=False)
    assert ex.exhausted and ex.schedules > 10
    assert dict(ex.counts) == {}
