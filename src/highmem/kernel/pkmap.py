"""Permanent kmaps: ``kmap``/``kunmap`` and the pkmap pool (2.4.22 mm/highmem.c, asm-i386/highmem.h).

LAST_PKMAP entries at PKMAP_BASE (1024; 512 with PAE), one page table.
``pkmap_count[i]`` is not a plain count:

* **0** - unmapped, and not mapped since the last global TLB flush: usable;
* **1** - no users, but mapped since the last flush: not usable until the
  next flush, because some CPU may still cache the old translation;
* **n >= 2** - n - 1 current users.

``map_new_virtual`` scans from ``last_pkmap_nr``; when the scan wraps to 0
it calls ``flush_all_zero_pkmaps``, which clears every count-1 entry and
flushes the TLB of every CPU (``flush_tlb_all``, IPIs on SMP) while holding
``kmap_lock``.  When every entry is busy the caller sleeps on
``pkmap_map_wait`` until a ``kunmap_high`` drops some count to 1.

kmap may sleep and is never legal in interrupt context (2.4 BUGs when
``in_interrupt()``); ``kmap_nonblock`` returns 0 instead of sleeping.

Departure from Linux: every profile uses this 2.4.22 code.  2.6.32 flushes
only when an entry was cleared, with ``flush_tlb_kernel_range``, and takes
kmap_lock through ``lock_kmap()``; 5.11 adds ``kmap_high_get``.  The kmap
machinery these generations changed is the atomic one, modelled per profile.
"""

from __future__ import annotations

from highmem.events import Kmap, Kunmap, PkmapFlush, PteClear, SetPte
from highmem.hw.physmem import PAGE_SHIFT, Page
from highmem.kernel import sched as _sched
from highmem.kernel.spinlock import spin_lock, spin_unlock

TYPE_CHECKING = False

if TYPE_CHECKING:
    from highmem.kernel.machine import Machine

__all__ = ["PkmapPool", "kmap", "kmap_nonblock", "kunmap", "kmap_high", "kunmap_high", "PKMAP_NR", "PKMAP_ADDR"]

PKMAP_WAIT = "pkmap_map_wait"


class PkmapPool:
    """The pkmap state of one machine, with the statistics users ask for."""

    def __init__(self, last_pkmap: int, base: int) -> None:
        self.LAST_PKMAP = last_pkmap
        self.LAST_PKMAP_MASK = last_pkmap - 1
        self.PKMAP_BASE = base
        self.pkmap_count = [0] * last_pkmap
        self.last_pkmap_nr = 0
        #: entries with count >= 2 now, and the most there ever were
        self.in_use = 0
        self.high_water = 0
        self.waits = 0
        self.wraps = 0


def PKMAP_NR(m: Machine, virt: int) -> int:
    """``PKMAP_NR(virt)``: the pkmap entry of a pkmap address."""
    return (virt - m.PKMAP_BASE) >> PAGE_SHIFT


def PKMAP_ADDR(m: Machine, nr: int) -> int:
    """``PKMAP_ADDR(nr)``: the address of pkmap entry ``nr``."""
    return m.PKMAP_BASE + (nr << PAGE_SHIFT)


def _pte_loc(m: Machine, nr: int) -> tuple[bytearray, int, int]:
    ptep = m.pkmap_page_table + nr * m.pte_size
    return m.phys.frame(ptep >> PAGE_SHIFT), ptep & 0xFFF, ptep


def flush_all_zero_pkmaps(m: Machine) -> None:
    """Clear every count-1 entry (BUG if its PTE is none), then flush all TLBs. kmap_lock held."""
    pool = m.pkmap
    pool.wraps += 1
    cleared = 0
    cur = m.current
    for i in range(pool.LAST_PKMAP):
        if pool.pkmap_count[i] != 1:
            continue
        pool.pkmap_count[i] = 0
        frame, off, ptep = _pte_loc(m, i)
        pte = m.pte_struct.unpack_from(frame, off)[0]
        if pte == 0:
            raise _sched._bug(m, "flush_all_zero_pkmaps", f"pkmap entry {i} has count 1 but a none PTE")
        pfn = (pte & m.geometry.addr_mask) >> PAGE_SHIFT
        m.pte_struct.pack_into(frame, off, 0)
        if m.bus.active and (m.bus.judges is None or PteClear in m.bus.judges):
            m.bus.emit(PteClear(cur.cpu, cur.name, ptep, PKMAP_ADDR(m, i), pte))
        m.mem_map.virtual[pfn] = 0
        cleared += 1
    if m.bus.active and (m.bus.judges is None or PkmapFlush in m.bus.judges):
        m.bus.emit(PkmapFlush(cur.cpu, cur.name, cleared))
    m.flush_tlb_all()


def map_new_virtual(m: Machine, page: Page, nonblocking: bool) -> int:
    """Find a usable entry for ``page`` and map it; 0 when ``nonblocking`` and none is free.
    Called with kmap_lock held; may drop it to sleep."""
    pool = m.pkmap
    while True:
        count = pool.LAST_PKMAP
        found = False
        while True:
            pool.last_pkmap_nr = (pool.last_pkmap_nr + 1) & pool.LAST_PKMAP_MASK
            if pool.last_pkmap_nr == 0:
                flush_all_zero_pkmaps(m)
                count = pool.LAST_PKMAP
            if pool.pkmap_count[pool.last_pkmap_nr] == 0:
                found = True
                break
            count -= 1
            if count == 0:
                break
        if found:
            break
        if nonblocking:
            return 0
        # Every entry is busy: sleep on pkmap_map_wait without losing a wake-up
        # (add_wait_queue + TASK_UNINTERRUPTIBLE before dropping the lock).
        pool.waits += 1
        eng = m.engine
        if eng is None:
            raise _sched._bug(m, "kmap_high", "every pkmap entry is in use and no other context can free one")
        eng.prepare_to_wait(m.current, PKMAP_WAIT)
        spin_unlock(m, "kmap_lock")
        _sched.schedule(m)
        spin_lock(m, "kmap_lock")
        if m.mem_map.virtual[page.pfn]:
            return m.mem_map.get_virtual(page.pfn)
    nr = pool.last_pkmap_nr
    vaddr = PKMAP_ADDR(m, nr)
    frame, off, ptep = _pte_loc(m, nr)
    new = (page.pfn << PAGE_SHIFT) | m.kmap_prot
    old = m.pte_struct.unpack_from(frame, off)[0]
    m.pte_struct.pack_into(frame, off, new)
    if m.bus.active and (m.bus.judges is None or SetPte in m.bus.judges):
        m.bus.emit(SetPte(m.current.cpu, m.current.name, ptep, vaddr, old, new))
    pool.pkmap_count[nr] = 1
    m.mem_map.virtual[page.pfn] = vaddr
    return vaddr


def kmap_high(m: Machine, page: Page, nonblocking: bool = False) -> int:
    """Map a high page into the pkmap area (or take another reference); may sleep."""
    pool = m.pkmap
    spin_lock(m, "kmap_lock")
    vaddr = m.mem_map.get_virtual(page.pfn)
    if not vaddr:
        vaddr = map_new_virtual(m, page, nonblocking)
        if not vaddr:
            spin_unlock(m, "kmap_lock")
            return 0
    nr = PKMAP_NR(m, vaddr)
    pool.pkmap_count[nr] += 1
    if pool.pkmap_count[nr] < 2:
        raise _sched._bug(m, "kmap_high", f"pkmap_count[{nr}] is {pool.pkmap_count[nr]} after taking a reference")
    if pool.pkmap_count[nr] == 2:
        pool.in_use += 1
        pool.high_water = max(pool.high_water, pool.in_use)
    if m.bus.active and (m.bus.judges is None or Kmap in m.bus.judges):
        m.bus.emit(Kmap(m.current.cpu, m.current.name, page.pfn, vaddr, nr, pool.pkmap_count[nr]))
    spin_unlock(m, "kmap_lock")
    return vaddr


def kunmap_high(m: Machine, page: Page) -> None:
    """Drop a pkmap reference; wake pkmap_map_wait when an entry becomes reusable."""
    pool = m.pkmap
    spin_lock(m, "kmap_lock")
    vaddr = m.mem_map.get_virtual(page.pfn)
    if not vaddr:
        raise _sched._bug(m, "kunmap_high", f"page {page.pfn:#x} has no pkmap address (page->virtual is NULL)")
    nr = PKMAP_NR(m, vaddr)
    pool.pkmap_count[nr] -= 1
    need_wakeup = False
    if pool.pkmap_count[nr] == 0:
        raise _sched._bug(m, "kunmap_high", f"pkmap_count[{nr}] reached 0 without a TLB flush")
    if pool.pkmap_count[nr] == 1:
        pool.in_use -= 1
        need_wakeup = m.engine is not None and m.engine.waitqueue_active(PKMAP_WAIT)
    if m.bus.active and (m.bus.judges is None or Kunmap in m.bus.judges):
        m.bus.emit(Kunmap(m.current.cpu, m.current.name, page.pfn, vaddr, nr, pool.pkmap_count[nr]))
    spin_unlock(m, "kmap_lock")
    if need_wakeup:
        _sched.wake_up(m, PKMAP_WAIT)


def _kmap(m: Machine, page: Page, nonblocking: bool, name: str) -> int:
    _sched._point(m, name)
    page = m.check_page(page)
    if _sched.in_interrupt(m):
        raise _sched._bug(m, name, f"called {_sched.interrupt_context_text(m)} on CPU {m.current.cpu} "
                          "(in_interrupt())")
    if page.pfn < m.highstart_pfn:
        return m.mem_map.get_virtual(page.pfn)
    return kmap_high(m, page, nonblocking)


def kmap(m: Machine, page: Page) -> int:
    """``kmap(page)``: a kernel address for ``page`` until ``kunmap``. Process context; may sleep."""
    return _kmap(m, page, False, "kmap")


def kmap_nonblock(m: Machine, page: Page) -> int:
    """``kmap_nonblock(page)``: as kmap, but 0 instead of sleeping when no entry is free."""
    return _kmap(m, page, True, "kmap_nonblock")


def kunmap(m: Machine, page: Page) -> None:
    """``kunmap(page)``: release a ``kmap``. Process context."""
    _sched._point(m, "kunmap")
    page = m.check_page(page)
    if _sched.in_interrupt(m):
        raise _sched._bug(m, "kunmap", f"called {_sched.interrupt_context_text(m)} on CPU {m.current.cpu} "
                          "(in_interrupt())")
    if page.pfn < m.highstart_pfn:
        return
    kunmap_high(m, page)
