"""Atomic kmaps, Linux 2.4.22 (include/asm-i386/highmem.h).

``kmap_atomic(page, type)``:

1. A page below ``highmem_start_page`` (lowmem) is already mapped: return
   ``page_address(page)``; nothing is written or flushed.
2. ``idx = type + KM_TYPE_NR * smp_processor_id()``;
   ``vaddr = __fix_to_virt(FIX_KMAP_BEGIN + idx)``.
3. CONFIG_DEBUG_HIGHMEM only: BUG if the PTE at ``kmap_pte - idx`` is not
   none (the slot is still mapped).
4. ``set_pte(kmap_pte - idx, mk_pte(page, kmap_prot))``: a plain store that
   silently replaces a previous mapping in a non-debug kernel.
5. ``__flush_tlb_one(vaddr)`` on this CPU only, because the slot's old
   translation may still be cached here.
6. Return vaddr.

It does not disable interrupts or preemption (2.4 is not preemptible); the
caller supplies whatever protection the slot needs.

``kunmap_atomic(kvaddr, type)`` does nothing at all without
CONFIG_DEBUG_HIGHMEM: PTE and TLB entry stay until the next kmap_atomic of
the slot replaces them.  With it: mask the address; return if it is below
FIXADDR_START (a lowmem, pkmap or vmalloc address); BUG if it is not the
slot of (type, this CPU); clear the PTE and flush its TLB entry, so a later
access through the stale address faults instead of reaching the old page.

A slot is therefore in one of three states: *free* (PTE none), *mapped*
(its owner is between map and unmap) or *stale* (non-debug: the window
closed but PTE and possibly TLB entry still point at the old page).
"""

from __future__ import annotations

from enum import IntEnum

from highmem.errors import HighmemError, KernelBUG
from highmem.events import Bug, KmapAtomic, KunmapAtomic, PteClear, SetPte
from highmem.hw.physmem import PAGE_MASK, PAGE_SHIFT, Page
from highmem.kernel.kmap_types import coerce_km_type
from highmem.kernel.vaddr import VirtAddr

TYPE_CHECKING = False

if TYPE_CHECKING:
    from highmem.kernel.machine import Machine

__all__ = ["kmap_atomic", "kunmap_atomic", "page_address", "PageHighMem", "slot_index", "flush_tlb_one"]


def page_address(m: Machine, page: Page) -> VirtAddr:
    """``page_address(page)``: ``page->virtual`` (0 for an unmapped high page). Any context."""
    return VirtAddr(m.mem_map.get_virtual(page.pfn))


def PageHighMem(m: Machine, page: Page) -> bool:
    """``PageHighMem(page)``: the frame lies in ZONE_HIGHMEM. Any context."""
    return page.pfn >= m.highstart_pfn


def _bug(m: Machine, function: str, condition: str) -> KernelBUG:
    cur = m.current
    if m.bus.active:
        m.bus.emit(Bug(cur.cpu, cur.name, function, f"kernel BUG in {function}: {condition}"))
    return KernelBUG(function, condition, cpu=cur.cpu)


def slot_index(m: Machine, type: int, cpu: int) -> int:
    """``idx = type + KM_TYPE_NR * cpu``, unchecked as in C for an integer type outside the enum;
    the fixmap index it gives must exist (else the PTE pointer leaves the fixmap's page tables)."""
    idx = type + m.KM_TYPE_NR * cpu
    fix = m.kmap_fixmap_base + idx
    if not 0 <= fix < m.fixmap.end_of_fixed:
        raise HighmemError(f"km type {int(type)} on CPU {cpu} gives fixmap index {fix}, outside the fixmap (0 to "
                           f"{m.fixmap.end_of_fixed - 1}): the PTE kmap_pte - {idx} is not a fixmap entry")
    return idx


def flush_tlb_one(m: Machine, cpu: int, vaddr: int) -> None:
    """``__flush_tlb_one(vaddr)`` on ``cpu``: ``invlpg``; with X86_INVLPG=n (an M386 build) on a CPU
    without PGE, a CR3 reload, which flushes every non-global entry (include/asm-i386/pgtable.h, 2.4.22)."""
    if m.X86_INVLPG or m.config.cpu_has_pge:
        m.cpus[cpu].flush_tlb_one(vaddr)
    else:
        m.cpus[cpu].flush_tlb()


def kmap_atomic(m: Machine, page: Page, type: IntEnum | str | int) -> VirtAddr:
    """Map ``page`` into this CPU's fixmap slot for ``type``; returns the page-aligned address.

    Any context, including interrupts; never sleeps.  The caller must not
    sleep, schedule or exit until ``kunmap_atomic``, and must keep other
    users of the same type on this CPU (interrupts, softirqs) out meanwhile.
    An integer type outside the enum indexes past this CPU's slots, as in C.
    """
    if m.sched_point is not None:
        m.sched_point("kmap_atomic")
    cur = m.current
    km_type = m.km_type
    if type.__class__ is not km_type:
        # A name (the bounce code passes "KM_USER0") is looked up directly; coerce_km_type does the rest.
        member: IntEnum | None = km_type._member_map_.get(type) if type.__class__ is str else None  # type: ignore
        type = member if member is not None else coerce_km_type(km_type, type)
    if not isinstance(page, Page) or page.mem_map is not m.mem_map or not 0 <= page.pfn < m.max_pfn:
        page = m.check_page(page)
    pfn = page.pfn
    if pfn < m.highstart_pfn:
        vaddr = VirtAddr(m.mem_map.get_virtual(pfn))
        if m.bus.active:
            m.bus.emit(KmapAtomic(cur.cpu, cur.name, type.name, -1, vaddr, pfn))
        return vaddr
    cpu = cur.cpu
    if type.__class__ is km_type:
        idx = type + m.KM_TYPE_NR * cpu
        vaddr = m.kmap_vaddr[idx]
        # The PTE at kmap_pte - idx, as (page-table frame, offset): see Machine.kmap_pte_at.
        frame, off = m.kmap_pte_at[idx]
        # An enum member's name (``.name`` is a Python-level property).
        name: str = type._name_
    else:
        idx = slot_index(m, type, cpu)
        v, frame, off = m.slot_pte(idx)
        vaddr = VirtAddr(v)
        name = type.name
    pte_struct = m.pte_struct
    if m.DEBUG_HIGHMEM and pte_struct.unpack_from(frame, off)[0] != 0:
        raise _bug(m, "kmap_atomic",
                   f"slot {type.name} of CPU {cpu} (fixmap {m.kmap_fixmap_base + idx}, {vaddr:#010x}) "
                   "is already mapped")
    new = (pfn << PAGE_SHIFT) | m.kmap_prot
    bus = m.bus
    on_kmap = bus.on_kmap
    if on_kmap is not None:
        # The sole observer judges the mapping only (EventBus.on_kmap): no PTE or flush events.
        pte_struct.pack_into(frame, off, new)
        if m.X86_INVLPG or m.config.cpu_has_pge:
            m.cpus[cpu].tlb.pop(vaddr >> PAGE_SHIFT, None)
        else:
            m.cpus[cpu].flush_tlb()
        on_kmap(cpu, cur.name, name, idx, vaddr, pfn)
    elif bus.active:
        old = pte_struct.unpack_from(frame, off)[0]
        pte_struct.pack_into(frame, off, new)
        m.bus.emit(SetPte(cpu, cur.name, m.kmap_pte - idx * m.pte_size, vaddr, old, new))
        flush_tlb_one(m, cpu, vaddr)
        m.bus.emit(KmapAtomic(cpu, cur.name, name, idx, vaddr, pfn))
    else:
        pte_struct.pack_into(frame, off, new)
        if m.X86_INVLPG or m.config.cpu_has_pge:
            m.cpus[cpu].tlb.pop(vaddr >> PAGE_SHIFT, None)
        else:
            m.cpus[cpu].flush_tlb()
    return vaddr


def kunmap_atomic(m: Machine, kvaddr: int, type: IntEnum | str | int) -> None:
    """End the atomic mapping at ``kvaddr`` made with ``type`` on this CPU.

    Any context.  Without CONFIG_DEBUG_HIGHMEM (or without CONFIG_HIGHMEM, where
    it is an empty macro) it does nothing (the slot is left *stale*); with it, a
    wrong address or type is a kernel BUG.
    """
    if m.sched_point is not None:
        m.sched_point("kunmap_atomic")
    km_type = m.km_type
    if type.__class__ is not km_type:
        member: IntEnum | None = km_type._member_map_.get(type) if type.__class__ is str else None  # type: ignore
        type = member if member is not None else coerce_km_type(km_type, type)
    if not m.DEBUG_HIGHMEM or not m.HIGHMEM:
        bus = m.bus
        if bus.active:
            cur = m.current
            cpu = cur.cpu
            # A lowmem (or any non-fixmap) address names no slot in the trace, as its kmap_atomic did not.
            idx = type + m.KM_TYPE_NR * cpu
            named = m.HIGHMEM and isinstance(kvaddr, int) and kvaddr & PAGE_MASK >= m.FIXADDR_START
            name = type._name_ if type.__class__ is km_type else type.name
            on_kunmap = bus.on_kunmap
            if on_kunmap is not None:
                # The sole observer's direct hook (EventBus.on_kunmap): no event built.
                on_kunmap(cpu, cur.name, name, idx if named else -1, kvaddr, False)
            else:
                bus.emit(KunmapAtomic(cpu, cur.name, name, idx if named else -1, kvaddr, False))
        return
    cur = m.current
    cpu = cur.cpu
    if isinstance(kvaddr, bool) or not isinstance(kvaddr, int) or not 0 <= kvaddr <= 0xFFFFFFFF:
        raise HighmemError(f"kunmap_atomic address {kvaddr!r} is not a 32-bit kernel address")
    vaddr = kvaddr & PAGE_MASK
    if vaddr < m.FIXADDR_START:
        if m.bus.active:
            m.bus.emit(KunmapAtomic(cpu, cur.name, type.name, -1, kvaddr, False))
        return
    idx = type + m.KM_TYPE_NR * cpu if type.__class__ is m.km_type else slot_index(m, type, cpu)
    slot, frame, off = m.slot_pte(idx)
    if vaddr != slot:
        raise _bug(m, "kunmap_atomic",
                   f"address {kvaddr:#010x} is not the slot of {type.name} on CPU {cpu} "
                   f"(fixmap {m.kmap_fixmap_base + idx}, {slot:#010x})")
    if m.bus.on_kunmap is not None:
        # As in kmap_atomic: the sole observer judges the unmapping only, no PTE or flush events.
        m.pte_struct.pack_into(frame, off, 0)
        if m.X86_INVLPG or m.config.cpu_has_pge:
            m.cpus[cpu].tlb.pop(vaddr >> PAGE_SHIFT, None)
        else:
            m.cpus[cpu].flush_tlb()
        m.bus.on_kunmap(cpu, cur.name, type.name, idx, kvaddr, True)
        return
    ptep = m.kmap_pte - idx * m.pte_size
    old = m.pte_struct.unpack_from(frame, off)[0]
    m.pte_struct.pack_into(frame, off, 0)
    if m.bus.active and (m.bus.judges is None or PteClear in m.bus.judges):
        m.bus.emit(PteClear(cpu, cur.name, ptep, vaddr, old))
    flush_tlb_one(m, cpu, vaddr)
    if m.bus.active:
        m.bus.emit(KunmapAtomic(cpu, cur.name, type.name, idx, kvaddr, True))
