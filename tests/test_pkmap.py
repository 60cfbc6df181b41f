"""Permanent kmaps: kmap / kunmap and the pkmap pool (2.4.22 mm/highmem.c, include/asm-i386/highmem.h).

Expected values come from kernel-facts.md 1.8: pkmap_count 0 = usable, 1 = unused but mapped since the
last global flush, n >= 2 = n - 1 users; map_new_virtual pre-increments last_pkmap_nr (starting at 0), so
the first kmap gets entry 1 and entry 0 is reached only by wrapping, which runs flush_all_zero_pkmaps
and one flush_tlb_all.  PKMAP_BASE = 0xfe000000 and PKMAP_ADDR(nr) = PKMAP_BASE + nr * 4096 (2.4.22
include/asm-i386/highmem.h).  The first high frame of a 2 GiB machine is MAXMEM_PFN = 0x38000.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import highmem
from highmem.errors import HighmemError, KernelBUG
from highmem.events import Kmap, Kunmap, PkmapFlush, PteClear, SetPte, TlbFlushAll
from highmem.scenarios import load_builtin, load_toml_text
from highmem.scenarios.model import ContextSpec, PageSpec, Scenario
from highmem.sim.explore import explore, run_once
from highmem.sim.strategy import DefaultStrategy

PKMAP_BASE = 0xFE000000
PAGE_SIZE = 4096
#: PAGE_KERNEL (0x063) plus _PAGE_GLOBAL (0x100): the CPU has PGE (2.4.22 include/asm-i386/pgtable.h).
PAGE_KERNEL_GLOBAL = 0x163
FIRST_HIGH_PFN = 0x38000


def pkmap_addr(nr: int) -> int:
    """2.4.22 include/asm-i386/highmem.h PKMAP_ADDR(nr)."""
    return PKMAP_BASE + nr * PAGE_SIZE


def _python(fns: list[tuple[str, int, Callable[[Any, Any], None]]], npages: int, **machine: Any) -> Scenario:
    sc = Scenario(name="py", machine=dict(machine), pages=[PageSpec(f"P{i}") for i in range(npages)],
                  contexts=[ContextSpec("task", name, cpu, fn=fn) for name, cpu, fn in fns])
    sc.python = True
    sc.digest = "x"
    return sc


def test_pkmap_first_kmap_uses_entry_1() -> None:
    """2.4.22 mm/highmem.c map_new_virtual: last_pkmap_nr starts at 0 and is pre-incremented, so the first
    kmap maps entry 1 at PKMAP_ADDR(1), sets its count to 1 then kmap_high takes a reference (2)."""
    m = highmem.boot("linux-2.4", cpus=2)
    ev: list[Any] = []
    m.subscribe(ev.append)
    page = m.alloc_highpage()
    assert page.pfn == FIRST_HIGH_PFN
    vaddr = m.kmap(page)
    assert vaddr == pkmap_addr(1) == 0xFE001000
    assert m.pkmap.last_pkmap_nr == 1
    assert m.pkmap.pkmap_count == [0, 2] + [0] * 1022
    assert int(m.mem_map.virtual[page.pfn]) == pkmap_addr(1)
    ptep = m.pkmap_page_table + 1 * 4
    assert ev == [
        SetPte(0, "init", ptep, pkmap_addr(1), 0, (FIRST_HIGH_PFN << 12) | PAGE_KERNEL_GLOBAL),
        Kmap(0, "init", FIRST_HIGH_PFN, pkmap_addr(1), 1, 2),
    ]


def test_pkmap_count_semantics_n_users_one_entry() -> None:
    """2.4.22 mm/highmem.c kmap_high / kunmap_high: a second kmap of a mapped page reuses page->virtual and
    raises the count to 3 (two users, one entry); kunmap goes 3 -> 2 -> 1 and the entry stays mapped."""
    m = highmem.boot("linux-2.4", cpus=2)
    page = m.alloc_highpage()
    ev: list[Any] = []
    m.subscribe(ev.append)
    a = m.kmap(page)
    b = m.kmap(page)
    assert a == b == pkmap_addr(1)
    assert m.pkmap.pkmap_count[:3] == [0, 3, 0] and sum(m.pkmap.pkmap_count) == 3
    m.kunmap(page)
    assert m.pkmap.pkmap_count[1] == 2
    m.kunmap(page)
    assert m.pkmap.pkmap_count[1] == 1
    # count 1: no users, but still mapped (page->virtual kept) until the next wrap flushes it
    assert int(m.mem_map.virtual[page.pfn]) == pkmap_addr(1)
    assert [e for e in ev if isinstance(e, (Kmap, Kunmap))] == [
        Kmap(0, "init", FIRST_HIGH_PFN, pkmap_addr(1), 1, 2),
        Kmap(0, "init", FIRST_HIGH_PFN, pkmap_addr(1), 1, 3),
        Kunmap(0, "init", FIRST_HIGH_PFN, pkmap_addr(1), 1, 2),
        Kunmap(0, "init", FIRST_HIGH_PFN, pkmap_addr(1), 1, 1),
    ]
    assert sum(isinstance(e, SetPte) for e in ev) == 1


def test_pkmap_count_1_entry_is_not_reused_before_a_flush() -> None:
    """2.4.22 mm/highmem.c map_new_virtual: only a count-0 entry is usable; after kmap/kunmap of page A
    (entry 1 left at count 1) a kmap of page B takes entry 2, not entry 1."""
    m = highmem.boot("linux-2.4", cpus=2)
    a, b = m.alloc_highpage(), m.alloc_highpage()
    m.kmap(a)
    m.kunmap(a)
    assert m.kmap(b) == pkmap_addr(2)
    assert m.pkmap.pkmap_count[:3] == [0, 1, 2]


def test_pkmap_wrap_flushes_exactly_the_count_1_entries() -> None:
    """2.4.22 mm/highmem.c flush_all_zero_pkmaps: on wrap, every count-1 entry is cleared (PTE none,
    page->virtual NULL, count 0), count >= 2 entries are left alone, then one flush_tlb_all runs; with 2
    CPUs outside the engine the other CPU runs the flush in its IPI context (2.4.22 arch/i386/kernel/smp.c)."""
    m = highmem.boot("linux-2.4", cpus=2, last_pkmap=4)
    p = [m.alloc_highpage() for _ in range(4)]
    m.kmap(p[0])                  # entry 1, held (count 2)
    m.kmap(p[1])                  # entry 2
    m.kunmap(p[1])                # -> count 1
    m.kmap(p[2])                  # entry 3
    m.kunmap(p[2])                # -> count 1
    assert m.pkmap.pkmap_count == [0, 2, 1, 1]
    flushes, wraps = m.tlb_flush_all_count, m.stats()["pkmap_wraps"]
    ev: list[Any] = []
    m.subscribe(ev.append)
    vaddr = m.kmap(p[3])          # scan: 1 -> 0 wraps, flush, entry 0 is free
    assert vaddr == pkmap_addr(0)
    assert m.pkmap.pkmap_count == [2, 2, 0, 0]
    assert m.tlb_flush_all_count == flushes + 1
    assert m.stats()["pkmap_wraps"] == wraps + 1
    assert m.stats()["global_tlb_flushes"] == flushes + 1
    assert [int(m.mem_map.virtual[x.pfn]) for x in p] == [pkmap_addr(1), 0, 0, pkmap_addr(0)]
    pte = m.pkmap_page_table
    assert ev == [
        PteClear(0, "init", pte + 8, pkmap_addr(2), (p[1].pfn << 12) | PAGE_KERNEL_GLOBAL),
        PteClear(0, "init", pte + 12, pkmap_addr(3), (p[2].pfn << 12) | PAGE_KERNEL_GLOBAL),
        PkmapFlush(0, "init", 2),
        TlbFlushAll(1, "IPI@1", True, 0),
        TlbFlushAll(0, "init", True, 0),
        SetPte(0, "init", pte, pkmap_addr(0), 0, (p[3].pfn << 12) | PAGE_KERNEL_GLOBAL),
        Kmap(0, "init", p[3].pfn, pkmap_addr(0), 0, 2),
    ]


def test_pkmap_wrap_on_uniprocessor_sends_no_ipi() -> None:
    """2.4.22 include/asm-i386/pgalloc.h: on UP flush_tlb_all is the local __flush_tlb_all alone."""
    m = highmem.boot("linux-2.4", cpus=1, nr_cpus=1, config={"SMP": False}, memory="1G", last_pkmap=2)
    a, b = m.alloc_highpage(), m.alloc_highpage()
    m.kmap(a)                     # entry 1
    ev: list[Any] = []
    m.subscribe(ev.append)
    assert m.kmap(b) == pkmap_addr(0)
    assert [e for e in ev if isinstance(e, TlbFlushAll)] == [TlbFlushAll(0, "init", True, 0)]


@pytest.mark.parametrize(("pae", "last"), [(False, 1024), (True, 512)], ids=["non-pae", "pae"])
def test_pkmap_last_pkmap_size(pae: bool, last: int) -> None:
    """2.4.22 include/asm-i386/highmem.h: LAST_PKMAP is 1024 (one page table), 512 with CONFIG_X86_PAE;
    PKMAP_BASE 0xfe000000."""
    m = highmem.boot("linux-2.4", cpus=2, pae=pae)
    assert m.LAST_PKMAP == m.pkmap.LAST_PKMAP == last
    assert m.pkmap.LAST_PKMAP_MASK == last - 1
    assert len(m.pkmap.pkmap_count) == last
    assert m.PKMAP_BASE == PKMAP_BASE


def test_pkmap_kmap_of_lowmem_page_is_page_address() -> None:
    """2.4.22 include/asm-i386/highmem.h __kmap: a page below highmem_start_page returns page_address
    (__va(pfn << 12)); no pkmap entry, count or event; kunmap of it returns at once."""
    m = highmem.boot("linux-2.4", cpus=2)
    low = m.page(0x1234)
    ev: list[Any] = []
    m.subscribe(ev.append)
    assert m.kmap(low) == 0xC0000000 + 0x1234 * PAGE_SIZE
    m.kunmap(low)
    assert m.kmap_nonblock(low) == 0xC1234000
    assert m.pkmap.pkmap_count == [0] * 1024
    assert m.pkmap.last_pkmap_nr == 0
    assert ev == []


def test_pkmap_kunmap_of_never_mapped_page_bugs() -> None:
    """2.4.22 mm/highmem.c kunmap_high: BUG if page->virtual is NULL."""
    m = highmem.boot("linux-2.4", cpus=2)
    page = m.alloc_highpage()
    with pytest.raises(KernelBUG) as e:
        m.kunmap(page)
    assert str(e.value) == ("kernel BUG in kunmap_high: page 0x38000 has no pkmap address "
                            "(page->virtual is NULL)")
    assert e.value.function == "kunmap_high"


def test_pkmap_kmap_in_hardirq_is_kernel_bug() -> None:
    """2.4.22 include/asm-i386/highmem.h __kmap: out_of_line_bug() if in_interrupt(); builtin kmap-in-irq,
    every schedule in which the serial interrupt arrives BUGs (finding kernel-bug, run stopped)."""
    sc = load_builtin("kmap-in-irq")
    ex = explore(sc, sc.config(), strategy="exhaustive", schedules=50, do_shrink=False)
    assert ex.exhausted
    assert set(ex.counts) == {"kernel-bug"}
    [f] = ex.findings
    assert f.kind == "kernel-bug" and f.contexts == ["serial#1"] and f.cpu == 0
    assert f.message == ("serial#1 on CPU 0: kernel BUG in kmap: called in hard-IRQ context on CPU 0 "
                         "(in_interrupt())")


def test_pkmap_kunmap_in_hardirq_is_kernel_bug() -> None:
    """2.4.22 include/asm-i386/highmem.h kunmap: out_of_line_bug() if in_interrupt()."""
    sc = load_toml_text("""
[machine]
last_pkmap = 4

[pages]
A = { fill = "a" }

[[task]]
name = "t"
ops = [{ op = "kmap", page = "A", as = "a" }, { op = "raise_irq", irq = "ide0" }, { op = "work", steps = 2 }]

[[irq]]
name = "ide0"
max = 0
ops = [{ op = "kunmap", page = "A" }]
""", "t.toml")
    res, _ = run_once(sc, sc.config(), DefaultStrategy())
    assert res.status == "stopped"
    assert res.stop_reason == "kernel BUG in kunmap: called in hard-IRQ context on CPU 0 (in_interrupt())"
    assert [(f.kind, f.contexts) for f in res.findings] == [("kernel-bug", ["ide0#1"])]


def test_pkmap_kmap_with_bottom_halves_disabled_bugs() -> None:
    """2.4.22 include/asm-i386/hardirq.h: in_interrupt() counts local_bh_count, so kmap after
    local_bh_disable BUGs in __kmap even in process context; the message says the softirq count is why."""
    sc = load_toml_text("""
[pages]
A = { fill = "a" }

[[task]]
name = "t"
ops = [{ op = "local_bh_disable" }, { op = "kmap", page = "A", as = "a" }]
""", "t.toml")
    res, _ = run_once(sc, sc.config(), DefaultStrategy())
    assert res.stop_reason == ("kernel BUG in kmap: called with bottom halves disabled (in_interrupt() is true "
                               "because of the softirq count, local_bh_count 1) on CPU 0 (in_interrupt())")
    assert [f.kind for f in res.findings] == ["kernel-bug"]


def test_pkmap_kmap_nonblock_returns_0_when_full() -> None:
    """2.4.22 mm/highmem.c map_new_virtual: with every entry busy and nonblocking, return 0 (kmap_high
    returns NULL) instead of sleeping; the scan wraps once (one flush) and nothing changes."""
    m = highmem.boot("linux-2.4", cpus=1, nr_cpus=1, config={"SMP": False}, memory="1G", last_pkmap=4)
    p = [m.alloc_highpage() for _ in range(5)]
    assert [m.kmap(x) for x in p[:4]] == [pkmap_addr(1), pkmap_addr(2), pkmap_addr(3), pkmap_addr(0)]
    before = m.stats()
    assert m.kmap_nonblock(p[4]) == 0
    after = m.stats()
    assert m.pkmap.pkmap_count == [2, 2, 2, 2]
    assert int(m.mem_map.virtual[p[4].pfn]) == 0
    assert after["pkmap_waits"] == before["pkmap_waits"] == 0
    assert after["pkmap_wraps"] == before["pkmap_wraps"] + 1
    assert m.locks == {}


def test_pkmap_kmap_nonblock_does_not_sleep_in_engine() -> None:
    """2.4.22 mm/highmem.c map_new_virtual: kmap_nonblock never sleeps on pkmap_map_wait, even under the
    scheduler; the task sees 0 and goes on."""
    got: list[int] = []

    def holder(k: Any, pages: Any) -> None:
        for i in range(4):
            k.kmap(pages[f"P{i}"])
        got.append(k.kmap_nonblock(pages["P4"]))
        for i in range(4):
            k.kunmap(pages[f"P{i}"])

    sc = _python([("holder", 0, holder)], 5, last_pkmap=4, cpus=1)
    res, rec = run_once(sc, sc.config(), DefaultStrategy(), trace=True)
    assert res.status == "done" and res.findings == []
    assert got == [0]
    assert res.stats["pkmap_waits"] == 0
    assert [(r["context"], r["what"], r["detail"]) for r in rec.records if r["kind"] == "context"] == [
        ("holder", "start", ""), ("holder", "end", "exit")]


def test_pkmap_kmap_sleeps_when_full_and_kunmap_wakes() -> None:
    """2.4.22 mm/highmem.c map_new_virtual / kunmap_high: with every entry busy kmap sleeps
    (TASK_UNINTERRUPTIBLE on pkmap_map_wait); the kunmap that drops a count to 1 wakes it; it rescans,
    wraps and takes the first entry the flush freed.  Here the holder runs on (2.4 is not preemptible) and
    drops all four references before the waiter runs again, so the waiter's rescan wraps at entry 0,
    the flush clears all four count-1 entries, and entry 0 is taken."""
    def holder(k: Any, pages: Any) -> None:
        for i in range(4):
            k.kmap(pages[f"P{i}"])     # entries 1, 2, 3, then 0 after a wrap
        k.schedule()                   # let the waiter run and find the pool full
        k.kunmap(pages["P0"])          # entry 1 -> count 1: wake pkmap_map_wait
        for i in range(1, 4):
            k.kunmap(pages[f"P{i}"])

    def waiter(k: Any, pages: Any) -> None:
        k.kmap(pages["P4"])
        k.kunmap(pages["P4"])

    sc = _python([("holder", 0, holder), ("waiter", 0, waiter)], 5, last_pkmap=4, cpus=1, nr_cpus=1,
                 config={"SMP": "n"})
    res, rec = run_once(sc, sc.config(), DefaultStrategy(), trace=True)
    assert res.status == "done" and res.findings == []
    ctx = [(r["context"], r["what"], r["detail"]) for r in rec.records if r["kind"] == "context"]
    assert ctx == [
        ("holder", "start", ""),
        ("holder", "switch_out", "schedule"),
        ("waiter", "start", ""),
        ("waiter", "switch_out", "sleep"),
        ("holder", "switch_in", ""),
        ("waiter", "wake", "pkmap_map_wait"),
        ("holder", "end", "exit"),
        ("waiter", "switch_in", ""),
        ("waiter", "end", "exit"),
    ]
    kmaps = [(r["context"], r["pfn"] - FIRST_HIGH_PFN, r["nr"]) for r in rec.records if r["kind"] == "kmap"]
    assert kmaps == [("holder", 0, 1), ("holder", 1, 2), ("holder", 2, 3), ("holder", 3, 0), ("waiter", 4, 0)]
    # holder's 4th kmap wraps; the waiter's full scan wraps; its rescan wraps again and clears all four
    flushes = [r["cleared"] for r in rec.records if r["kind"] == "pkmap_flush"]
    assert flushes == [0, 0, 4]
    assert res.stats["pkmap_waits"] == 1
    assert res.stats["pkmap_high_water"] == 4


def test_pkmap_exhaustion_builtin_is_clean_and_fills_the_pool() -> None:
    """2.4.22 mm/highmem.c kmap_high: builtin pkmap-exhaustion (LAST_PKMAP shrunk to 4, six holders) is
    clean over 30 PCT schedules; at most 4 entries are ever in use, the pool wraps and tasks wait."""
    sc = load_builtin("pkmap-exhaustion")
    ex = explore(sc, sc.config(), strategy="pct", schedules=30, seed=0, do_shrink=False)
    assert ex.schedules == 30
    assert dict(ex.counts) == {}
    assert ex.stats["pkmap_high_water"] == 4
    assert ex.stats["pkmap_in_use"] == 0
    assert ex.stats["pkmap_wraps"] > 0
    assert ex.stats["pkmap_waits"] > 0
    assert ex.stats["global_tlb_flushes"] == ex.stats["pkmap_wraps"]


@pytest.mark.parametrize("last", [3, 0, 2048, 1, 6])
def test_pkmap_bad_last_pkmap_is_rejected(last: int) -> None:
    """2.4.22 include/asm-i386/highmem.h: LAST_PKMAP_MASK = LAST_PKMAP - 1 needs a power of two no larger
    than the kernel's 1024; the model's shrinking option refuses anything else."""
    with pytest.raises(HighmemError) as e:
        highmem.boot("linux-2.4", last_pkmap=last)
    assert str(e.value) == (f"LAST_PKMAP={last} is invalid: it must be a power of two from 2 to 1024 "
                            "(LAST_PKMAP_MASK needs a power of two)")


def test_pkmap_last_pkmap_above_pae_size_is_rejected() -> None:
    """2.4.22 include/asm-i386/highmem.h: with CONFIG_X86_PAE LAST_PKMAP is 512, so 1024 cannot be asked."""
    with pytest.raises(HighmemError, match=r"^LAST_PKMAP=1024 is invalid: it must be a power of two from 2 to 512"):
        highmem.boot("linux-2.4", pae=True, last_pkmap=1024)


def test_pkmap_kunmap_below_one_user_bugs() -> None:
    """2.4.22 mm/highmem.c kunmap_high: --pkmap_count reaching 0 is a BUG (an entry may only return to 0 through
    the flush of a wrap); a second kunmap of a page kmapped once does exactly that."""
    m = highmem.boot("linux-2.4", cpus=2)
    page = m.alloc_highpage()
    m.kmap(page)
    m.kunmap(page)
    with pytest.raises(KernelBUG) as e:
        m.kunmap(page)
    assert str(e.value) == "kernel BUG in kunmap_high: pkmap_count[1] reached 0 without a TLB flush"


@pytest.mark.parametrize(("last", "pae"), [(2, False), (1024, False), (512, True)])
def test_pkmap_last_pkmap_accepted_values(last: int, pae: bool) -> None:
    """2.4.22 include/asm-i386/highmem.h: any power of two up to the kernel's own LAST_PKMAP is a usable
    (shrunk) pool; the first kmap still takes entry 1."""
    m = highmem.boot("linux-2.4", pae=pae, last_pkmap=last)
    assert m.LAST_PKMAP == last and len(m.pkmap.pkmap_count) == last
    assert m.kmap(m.alloc_highpage()) == pkmap_addr(1)
