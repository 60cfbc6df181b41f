"""kmap_atomic / kunmap_atomic of 2.4.22 (spec 1.5), with and without CONFIG_DEBUG_HIGHMEM."""

from __future__ import annotations

import pytest

import highmem
from highmem.errors import HighmemError, KernelBUG, PageFault
from highmem.events import Bug, Fault, KmapAtomic, KunmapAtomic, Load, PteClear, SetPte, Store, TlbFill, TlbFlushOne

PAGE_KERNEL_GLOBAL = 0x063 | 0x100
PAGE_OFFSET = 0xC0000000
CPU1_USER0 = 0xFFFEA000  # 0xffffe000 - (9 + 3 + 8) pages, fixmap 20
CPU1_USER1 = 0xFFFE9000  # fixmap 21
CPU0_USER0 = 0xFFFF2000  # fixmap 12
KUNMAP_BUG = "kernel BUG in kunmap_atomic: "


def _slot_ptep(m: highmem.Machine, cpu: int, t: int) -> int:
    """Spec 1.5: the slot PTE is kmap_pte - idx, idx = type + KM_TYPE_NR * cpu."""
    return m.kmap_pte - (t + 8 * cpu) * m.pte_size


def _pte(m: highmem.Machine, ptep: int) -> int:
    return int.from_bytes(m.phys.read(ptep, m.pte_size), "little")


def test_kmap_atomic_high_page_event_trace(smp2: highmem.Machine, record) -> None:
    """Mapping a high page writes the slot PTE, flushes that TLB entry on this CPU, then returns the slot."""
    m = smp2
    page = m.alloc_highpage()
    events = record(m)
    ptep = _slot_ptep(m, 1, 3)
    with m.process(cpu=1):
        vaddr = m.kmap_atomic(page, m.km_type.KM_USER0)
    assert vaddr == CPU1_USER0
    assert events == [
        SetPte(1, "task", ptep, CPU1_USER0, 0, (page.pfn << 12) | PAGE_KERNEL_GLOBAL),
        TlbFlushOne(1, "task", CPU1_USER0, False),
        KmapAtomic(1, "task", "KM_USER0", 11, CPU1_USER0, page.pfn),
    ]
    assert [e.kind for e in events] == ["set_pte", "tlb_flush_one", "kmap_atomic"]
    assert _pte(m, ptep) == (page.pfn << 12) | 0x163


def test_kmap_atomic_without_pge_has_no_global_bit() -> None:
    """Without PGE the slot PTE is plain PAGE_KERNEL (0x063)."""
    m = highmem.boot(cpu_has_pge=False)
    page = m.alloc_highpage()
    m.kmap_atomic(page, "KM_USER0")
    assert _pte(m, _slot_ptep(m, 0, 3)) == (page.pfn << 12) | 0x063


def test_kmap_atomic_pae_pte_holds_frame_above_4g(record) -> None:
    """PAE: the 8-byte slot PTE holds a frame number above 4 GiB and old/new values are 64-bit."""
    m = highmem.boot(pae=True, memory="8G")
    page = m.page(0x1FFFFF)  # the last frame below 8 GiB
    events = record(m)
    vaddr = m.kmap_atomic(page, "KM_USER1")
    assert vaddr == 0xFFFF1000
    assert events[0] == SetPte(0, "init", m.kmap_pte - 4 * 8, 0xFFFF1000, 0, (0x1FFFFF << 12) | 0x163)
    m.store(vaddr, b"pae")
    assert m.phys.read(0x1FFFFF << 12, 3) == b"pae"


def test_kmap_atomic_store_load_unmap_trace(smp2: highmem.Machine, record) -> None:
    """Store, load and a non-debug unmap through the slot: one TLB fill, a hit, and an unmap that clears nothing."""
    m = smp2
    page = m.alloc_highpage()
    with m.process(cpu=1):
        vaddr = m.kmap_atomic(page, "KM_USER0")
        events = record(m)
        m.store(vaddr + 16, b"high memory")
        data = m.load(vaddr + 16, 11)
        m.kunmap_atomic(vaddr, "KM_USER0")
    assert data == b"high memory"
    assert events == [
        TlbFill(1, CPU1_USER0, page.pfn),
        Store(1, "task", CPU1_USER0 + 16, 11, page.pfn, False),
        Load(1, "task", CPU1_USER0 + 16, 11, page.pfn, True),
        KunmapAtomic(1, "task", "KM_USER0", 11, CPU1_USER0, False),
    ]


def test_kmap_atomic_store_lands_in_page_frame(smp2: highmem.Machine) -> None:
    """Bytes stored through the kmap address are in the page's frame, at the same offset."""
    m = smp2
    page = m.alloc_highpage()
    with m.process(cpu=1):
        vaddr = m.kmap_atomic(page, "KM_USER0")
        m.store(vaddr + 0xFF0, b"0123456789abcdef")
    assert m.page_bytes(page, 0xFF0, 16) == b"0123456789abcdef"
    assert m.phys.read(page.pfn * 4096 + 0xFF0, 16) == b"0123456789abcdef"
    assert m.page_bytes(page, 0, 0xFF0) == bytes(0xFF0)


def test_kmap_atomic_lowmem_page_is_page_address(smp2: highmem.Machine, record) -> None:
    """A lowmem page returns page_address with no PTE write and no flush."""
    m = smp2
    page = m.alloc_page()
    assert page.pfn < 0x38000
    events = record(m)
    with m.process(cpu=1):
        vaddr = m.kmap_atomic(page, "KM_USER0")
    assert vaddr == PAGE_OFFSET + page.pfn * 4096
    assert events == [KmapAtomic(1, "task", "KM_USER0", -1, vaddr, page.pfn)]
    assert _pte(m, _slot_ptep(m, 1, 3)) == 0


def test_kmap_atomic_nondebug_kunmap_leaves_pte_and_tlb(smp2: highmem.Machine) -> None:
    """Non-debug kunmap_atomic does nothing: PTE and TLB entry stay, the address still reads the page."""
    m = smp2
    page = m.alloc_highpage()
    m.phys.write(page.phys, b"still here")
    with m.process(cpu=1):
        vaddr = m.kmap_atomic(page, "KM_USER0")
        assert m.load(vaddr, 10) == b"still here"
        m.kunmap_atomic(vaddr, "KM_USER0")
        assert m.cpus[1].tlb_lookup(vaddr) == page.pfn
        assert _pte(m, _slot_ptep(m, 1, 3)) == (page.pfn << 12) | 0x163
        assert m.load(vaddr, 10) == b"still here"
        m.flush_tlb_one(vaddr)
        assert m.load(vaddr, 10) == b"still here"  # walks the stale PTE


def test_kmap_atomic_nondebug_kunmap_ignores_wrong_type_and_address(smp2: highmem.Machine, record) -> None:
    """Non-debug kunmap_atomic with a wrong type or address is still a silent no-op; a lowmem address
    names no slot in the trace (idx -1, as its kmap_atomic)."""
    m = smp2
    page = m.alloc_highpage()
    with m.process(cpu=1):
        vaddr = m.kmap_atomic(page, "KM_USER0")
        events = record(m)
        m.kunmap_atomic(vaddr, "KM_USER1")
        m.kunmap_atomic(0x1234, "KM_USER0")
    assert events == [KunmapAtomic(1, "task", "KM_USER1", 12, vaddr, False),
                      KunmapAtomic(1, "task", "KM_USER0", -1, 0x1234, False)]
    assert _pte(m, _slot_ptep(m, 1, 3)) == (page.pfn << 12) | 0x163


def test_kmap_atomic_nondebug_remap_replaces_mapping(smp2: highmem.Machine, record) -> None:
    """Non-debug: mapping a busy slot silently replaces it; the old holder's address now reads the new page."""
    m = smp2
    a, b = m.alloc_highpage(), m.alloc_highpage()
    m.phys.write(a.phys, b"page A")
    m.phys.write(b.phys, b"page B")
    with m.process(cpu=1):
        va = m.kmap_atomic(a, "KM_USER0")
        assert m.load(va, 6) == b"page A"
        events = record(m)
        vb = m.kmap_atomic(b, "KM_USER0")
        assert vb == va
        assert m.load(va, 6) == b"page B"
    assert events[:3] == [
        SetPte(1, "task", _slot_ptep(m, 1, 3), CPU1_USER0, (a.pfn << 12) | 0x163, (b.pfn << 12) | 0x163),
        TlbFlushOne(1, "task", CPU1_USER0, True),
        KmapAtomic(1, "task", "KM_USER0", 11, CPU1_USER0, b.pfn),
    ]


def test_kmap_atomic_debug_kunmap_clears_and_flushes(smp2_debug: highmem.Machine, record) -> None:
    """Debug kunmap_atomic clears the slot PTE, flushes this CPU's entry, and reports it."""
    m = smp2_debug
    page = m.alloc_highpage()
    ptep = _slot_ptep(m, 1, 3)
    with m.process(cpu=1):
        vaddr = m.kmap_atomic(page, "KM_USER0")
        m.load(vaddr, 1)
        events = record(m)
        m.kunmap_atomic(vaddr + 0x10, "KM_USER0")  # the offset is masked off
    assert events == [
        PteClear(1, "task", ptep, CPU1_USER0, (page.pfn << 12) | 0x163),
        TlbFlushOne(1, "task", CPU1_USER0, True),
        KunmapAtomic(1, "task", "KM_USER0", 11, CPU1_USER0 + 0x10, True),
    ]
    assert _pte(m, ptep) == 0
    assert m.cpus[1].tlb_lookup(vaddr) is None


@pytest.mark.parametrize(("op", "verb"), [("load", "read from"), ("store", "write to")])
def test_kmap_atomic_debug_access_after_unmap_faults(smp2_debug: highmem.Machine, record, op: str, verb: str) -> None:
    """After a debug unmap, an access through the old address is an Oops naming the address and CPU."""
    m = smp2_debug
    page = m.alloc_highpage()
    with m.process(cpu=1):
        vaddr = m.kmap_atomic(page, "KM_USER0")
        m.kunmap_atomic(vaddr, "KM_USER0")
        events = record(m)
        with pytest.raises(PageFault) as exc:
            if op == "load":
                m.load(vaddr + 8, 4)
            else:
                m.store(vaddr + 8, b"late")
    msg = f"Oops: page fault on CPU 1: {verb} 0xfffea008, whose pte is not present"
    assert str(exc.value) == msg
    assert (exc.value.vaddr, exc.value.cpu, exc.value.write, exc.value.level) == (
        CPU1_USER0 + 8, 1, op == "store", "pte")
    assert events == [Fault(1, "task", CPU1_USER0 + 8, op == "store", msg)]
    assert m.page_bytes(page, 8, 4) == bytes(4)


def test_kmap_atomic_debug_double_map_is_bug(smp2_debug: highmem.Machine, record) -> None:
    """Debug: mapping a slot that is still mapped is a kernel BUG with the exact message, changing nothing."""
    m = smp2_debug
    a, b = m.alloc_highpage(), m.alloc_highpage()
    ptep = _slot_ptep(m, 1, 3)
    with m.process(cpu=1):
        m.kmap_atomic(a, "KM_USER0")
        m.load(CPU1_USER0, 1)
        events = record(m)
        with pytest.raises(KernelBUG) as exc:
            m.kmap_atomic(b, "KM_USER0")
    msg = "kernel BUG in kmap_atomic: slot KM_USER0 of CPU 1 (fixmap 20, 0xfffea000) is already mapped"
    assert str(exc.value) == msg
    assert (exc.value.function, exc.value.cpu) == ("kmap_atomic", 1)
    assert events == [Bug(1, "task", "kmap_atomic", msg)]
    assert _pte(m, ptep) == (a.pfn << 12) | 0x163
    assert m.cpus[1].tlb_lookup(CPU1_USER0) == a.pfn


def test_kmap_atomic_debug_map_after_unmap_is_fine(smp2_debug: highmem.Machine) -> None:
    """Debug: map, unmap, map again of the same slot is legal and reaches the new page."""
    m = smp2_debug
    a, b = m.alloc_highpage(), m.alloc_highpage()
    m.phys.write(b.phys, b"B")
    with m.process(cpu=1):
        v = m.kmap_atomic(a, "KM_USER0")
        m.kunmap_atomic(v, "KM_USER0")
        assert m.kmap_atomic(b, "KM_USER0") == v
        assert m.load(v, 1) == b"B"


def test_kmap_atomic_debug_same_type_on_two_cpus_is_fine(smp2_debug: highmem.Machine) -> None:
    """Debug: the same type on two CPUs uses two different slots, so neither BUGs."""
    m = smp2_debug
    a, b = m.alloc_highpage(), m.alloc_highpage()
    with m.process(cpu=0):
        va = m.kmap_atomic(a, "KM_USER0")
    with m.process(cpu=1):
        vb = m.kmap_atomic(b, "KM_USER0")
    assert (va, vb) == (CPU0_USER0, CPU1_USER0)


@pytest.mark.parametrize(
    ("cpu", "kvaddr", "type_", "message"),
    [
        (1, CPU1_USER0, "KM_USER1",
         KUNMAP_BUG + "address 0xfffea000 is not the slot of KM_USER1 on CPU 1 (fixmap 21, 0xfffe9000)"),
        (1, CPU0_USER0, "KM_USER1",
         KUNMAP_BUG + "address 0xffff2000 is not the slot of KM_USER1 on CPU 1 (fixmap 21, 0xfffe9000)"),
        (0, CPU1_USER0, "KM_USER0",
         KUNMAP_BUG + "address 0xfffea000 is not the slot of KM_USER0 on CPU 0 (fixmap 12, 0xffff2000)"),
        (1, 0xFFFFE000, "KM_USER0",
         KUNMAP_BUG + "address 0xffffe000 is not the slot of KM_USER0 on CPU 1 (fixmap 20, 0xfffea000)"),
    ],
    ids=["wrong-type", "wrong-address", "wrong-cpu", "apic-page"],
)
def test_kmap_atomic_debug_kunmap_wrong_slot_is_bug(smp2_debug: highmem.Machine, record, cpu: int, kvaddr: int,
                                                    type_: str, message: str) -> None:
    """Debug kunmap_atomic of an address that is not (type, this CPU)'s slot BUGs and clears nothing."""
    m = smp2_debug
    page = m.alloc_highpage()
    with m.process(cpu=1):
        m.kmap_atomic(page, "KM_USER0")
    with m.process(cpu=cpu):
        events = record(m)
        with pytest.raises(KernelBUG) as exc:
            m.kunmap_atomic(kvaddr, type_)
    assert str(exc.value) == message
    assert (exc.value.function, exc.value.cpu) == ("kunmap_atomic", cpu)
    assert events == [Bug(cpu, "task", "kunmap_atomic", message)]
    assert _pte(m, _slot_ptep(m, 1, 3)) == (page.pfn << 12) | 0x163


@pytest.mark.parametrize("kvaddr", [PAGE_OFFSET + 0x5000, 0xFE000000, 0xF8800000, 0x1000],
                         ids=["lowmem", "pkmap", "vmalloc", "user"])
def test_kmap_atomic_debug_kunmap_below_fixaddr_start_ignored(smp2_debug: highmem.Machine, record,
                                                              kvaddr: int) -> None:
    """Debug kunmap_atomic of an address below FIXADDR_START returns without checking or clearing."""
    m = smp2_debug
    page = m.alloc_highpage()
    with m.process(cpu=1):
        m.kmap_atomic(page, "KM_USER0")
        events = record(m)
        m.kunmap_atomic(kvaddr, "KM_USER0")
    assert events == [KunmapAtomic(1, "task", "KM_USER0", -1, kvaddr, False)]
    assert _pte(m, _slot_ptep(m, 1, 3)) == (page.pfn << 12) | 0x163


def test_kmap_atomic_debug_lowmem_map_unmap_pair(smp2_debug: highmem.Machine) -> None:
    """Debug: a lowmem page's kmap/kunmap pair works and touches no slot."""
    m = smp2_debug
    page = m.alloc_page()
    vaddr = m.kmap_atomic(page, "KM_USER0")
    m.store(vaddr, b"low")
    m.kunmap_atomic(vaddr, "KM_USER0")
    assert m.page_bytes(page, 0, 3) == b"low"
    assert _pte(m, _slot_ptep(m, 0, 3)) == 0


def test_kmap_atomic_stale_tlb_until_flush(smp2: highmem.Machine) -> None:
    """A PTE rewritten without a flush is invisible to a CPU that cached the slot until flush_tlb_one."""
    m = smp2
    a, b = m.alloc_highpage(), m.alloc_highpage()
    m.phys.write(a.phys, b"AAAA")
    m.phys.write(b.phys, b"BBBB")
    ptep = _slot_ptep(m, 0, 3)
    with m.process(cpu=0):
        vaddr = m.kmap_atomic(a, "KM_USER0")
        assert vaddr == CPU0_USER0
        assert m.load(vaddr, 4) == b"AAAA"
        m.phys.write(ptep, ((b.pfn << 12) | 0x163).to_bytes(4, "little"))  # another path, no flush
        assert m.load(vaddr, 4) == b"AAAA"
        m.store(vaddr, b"aaaa")  # the stale entry also carries stores to the old frame
        assert m.page_bytes(a, 0, 4) == b"aaaa" and m.page_bytes(b, 0, 4) == b"BBBB"
        m.flush_tlb_one(vaddr)
        assert m.load(vaddr, 4) == b"BBBB"


def test_kmap_atomic_page_of_other_machine_raises(smp2: highmem.Machine) -> None:
    """A page handle of another machine is rejected before anything changes."""
    other = highmem.boot()
    page = other.alloc_highpage()
    with pytest.raises(HighmemError, match=r"^page 0x38000 belongs to another machine$"):
        smp2.kmap_atomic(page, "KM_USER0")
    with pytest.raises(HighmemError, match=r"is not a struct page"):
        smp2.kmap_atomic(0x38000, "KM_USER0")
    assert _pte(smp2, _slot_ptep(smp2, 0, 3)) == 0


@pytest.mark.parametrize("kvaddr", [-1, (1 << 32) + CPU0_USER0], ids=["negative", "above-4g"])
def test_kmap_atomic_debug_kunmap_non_address_raises(smp2_debug: highmem.Machine, kvaddr: int) -> None:
    """Debug kunmap_atomic of a value that is no 32-bit address is a HighmemError and leaves the slot mapped."""
    m = smp2_debug
    page = m.alloc_highpage()
    m.kmap_atomic(page, "KM_USER0")
    with pytest.raises(HighmemError):
        m.kunmap_atomic(kvaddr, "KM_USER0")
    assert _pte(m, _slot_ptep(m, 0, 3)) == (page.pfn << 12) | 0x163
