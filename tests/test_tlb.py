"""Per-CPU TLBs (spec 1.6): fills, independence, invlpg, CR3 reload, global flush, faults and bad accesses."""

from __future__ import annotations

import pytest

import highmem
from highmem.errors import HighmemError, PageFault
from highmem.events import Fault, Load, Store, TlbFill, TlbFlushAll, TlbFlushOne

PAGE_OFFSET = 0xC0000000
CPU1_USER0 = 0xFFFEA000
CPU0_USER0 = 0xFFFF2000


def _snapshot(m: highmem.Machine) -> tuple:
    """Everything a bad access must leave alone: every TLB and every materialised frame."""
    return ([dict(c.tlb) for c in m.cpus], {pfn: bytes(fr) for pfn, fr in m.phys.frames.items()})


def test_tlb_fill_then_hit_trace(smp2: highmem.Machine, record) -> None:
    """The first load walks the tables and emits tlb_fill; the second hits the TLB."""
    m = smp2
    m.phys.write(0x5000, b"abcd")
    events = record(m)
    with m.process(cpu=0):
        assert m.load(PAGE_OFFSET + 0x5000, 4) == b"abcd"
        assert m.load(PAGE_OFFSET + 0x5000, 4) == b"abcd"
    assert events == [
        TlbFill(0, PAGE_OFFSET + 0x5000, 5),
        Load(0, "task", PAGE_OFFSET + 0x5000, 4, 5, False),
        Load(0, "task", PAGE_OFFSET + 0x5000, 4, 5, True),
    ]
    assert m.cpus[0].tlb_lookup(PAGE_OFFSET + 0x5FFF) == 5
    assert m.cpus[1].tlb_lookup(PAGE_OFFSET + 0x5000) is None


def test_tlb_load_across_page_boundary(smp2: highmem.Machine) -> None:
    """A load spanning two pages reads both frames and fills one entry per page."""
    m = smp2
    m.phys.write(0x6FFE, b"ab")
    m.phys.write(0x7000, b"cd")
    assert m.load(PAGE_OFFSET + 0x6FFE, 4) == b"abcd"
    assert (m.cpus[0].tlb_lookup(PAGE_OFFSET + 0x6000), m.cpus[0].tlb_lookup(PAGE_OFFSET + 0x7000)) == (6, 7)


def test_tlb_per_cpu_independence(smp2: highmem.Machine, record) -> None:
    """A CPU loading another CPU's slot caches it in its own TLB; the owner's remap flushes only the owner."""
    m = smp2
    a, b = m.alloc_highpage(), m.alloc_highpage()
    m.phys.write(a.phys, b"A")
    m.phys.write(b.phys, b"B")
    with m.process(cpu=1):
        assert m.kmap_atomic(a, "KM_USER0") == CPU1_USER0
    with m.process(cpu=0):
        assert m.load(CPU1_USER0, 1) == b"A"
    assert m.cpus[0].tlb_lookup(CPU1_USER0) == a.pfn
    assert m.cpus[1].tlb_lookup(CPU1_USER0) is None
    events = record(m)
    with m.process(cpu=1):
        m.kmap_atomic(b, "KM_USER0")
        assert m.load(CPU1_USER0, 1) == b"B"
    flushes = [e for e in events if e.kind == "tlb_flush_one"]
    assert flushes == [TlbFlushOne(1, "task", CPU1_USER0, False)]
    with m.process(cpu=0):
        assert m.load(CPU1_USER0, 1) == b"A"  # CPU 0's entry is stale
        m.flush_tlb_one(CPU1_USER0)
        assert m.load(CPU1_USER0, 1) == b"B"


def test_tlb_flush_one_is_local(smp2: highmem.Machine, record) -> None:
    """__flush_tlb_one drops only the calling CPU's entry and says whether one was there."""
    m = smp2
    for cpu in (0, 1):
        with m.process(cpu=cpu):
            m.load(PAGE_OFFSET, 1)
    events = record(m)
    with m.process(cpu=0):
        m.flush_tlb_one(PAGE_OFFSET + 0x123)
        m.flush_tlb_one(PAGE_OFFSET + 0x123)
    assert events == [TlbFlushOne(0, "task", PAGE_OFFSET, True), TlbFlushOne(0, "task", PAGE_OFFSET, False)]
    assert m.cpus[0].tlb_lookup(PAGE_OFFSET) is None
    assert m.cpus[1].tlb_lookup(PAGE_OFFSET) == 0


def test_tlb_cr3_reload_keeps_global_entries(smp2: highmem.Machine, record) -> None:
    """__flush_tlb (CR3 reload) keeps global kernel entries when the CPU has PGE."""
    m = smp2
    page = m.alloc_highpage()
    vaddr = m.kmap_atomic(page, "KM_USER0")
    m.load(vaddr, 1)
    m.load(PAGE_OFFSET, 1)
    events = record(m)
    with m.process(cpu=0):
        m.cpus[0].flush_tlb()
    assert events == [TlbFlushAll(0, "task", False, 0)]
    assert (m.cpus[0].tlb_lookup(vaddr), m.cpus[0].tlb_lookup(PAGE_OFFSET)) == (page.pfn, 0)


def test_tlb_cr3_reload_without_pge_drops_everything(record) -> None:
    """Without PGE no kernel entry is global, so a CR3 reload drops the kmap slot and lowmem entries."""
    m = highmem.boot(cpu_has_pge=False)
    page = m.alloc_highpage()
    vaddr = m.kmap_atomic(page, "KM_USER0")
    m.load(vaddr, 1)
    m.load(PAGE_OFFSET, 1)
    events = record(m)
    with m.process(cpu=0):
        m.cpus[0].flush_tlb()
    assert events == [TlbFlushAll(0, "task", False, 2)]
    assert (m.cpus[0].tlb_lookup(vaddr), m.cpus[0].tlb_lookup(PAGE_OFFSET)) == (None, None)


def test_tlb_flush_tlb_all_drops_global_on_every_cpu(smp2: highmem.Machine, record) -> None:
    """flush_tlb_all drops every entry, global ones included, on every online CPU."""
    m = smp2
    page = m.alloc_highpage()
    with m.process(cpu=0):
        vaddr = m.kmap_atomic(page, "KM_USER0")
        m.load(vaddr, 1)
        m.load(PAGE_OFFSET, 1)
    with m.process(cpu=1):
        m.load(PAGE_OFFSET + 0x1000, 1)
        events = record(m)
        m.flush_tlb_all()
    assert [(e.kind, e.cpu, e.include_global, e.dropped) for e in events] == [
        ("tlb_flush_all", 0, True, 2), ("tlb_flush_all", 1, True, 1)]
    assert m.cpus[0].tlb == {} and m.cpus[1].tlb == {}


def test_tlb_local_flush_tlb_all_is_this_cpu_only(smp2: highmem.Machine, record) -> None:
    """__flush_tlb_all on one CPU leaves the other CPU's entries."""
    m = smp2
    for cpu in (0, 1):
        with m.process(cpu=cpu):
            m.load(PAGE_OFFSET, 1)
    events = record(m)
    with m.process(cpu=1):
        m.local_flush_tlb_all()
    assert events == [TlbFlushAll(1, "task", True, 1)]
    assert (m.cpus[0].tlb_lookup(PAGE_OFFSET), m.cpus[1].tlb_lookup(PAGE_OFFSET)) == (0, None)


@pytest.mark.parametrize(("pae", "level"), [(False, "pgd"), (True, "pmd")], ids=["2level", "pae"])
def test_tlb_user_address_faults(pae: bool, level: str, record) -> None:
    """A kernel load at unmapped user address 0x1000 is an Oops naming the missing level; nothing is cached."""
    m = highmem.boot(pae=pae)
    events = record(m)
    with m.process(cpu=0), pytest.raises(PageFault) as exc:
        m.load(0x1000, 4)
    msg = f"Oops: page fault on CPU 0: read from 0x00001000, whose {level} is not present"
    assert str(exc.value) == msg
    assert isinstance(exc.value, highmem.Oops)
    assert events == [Fault(0, "task", 0x1000, False, msg)]
    assert m.cpus[0].tlb == {}


def test_tlb_store_to_free_slot_faults(smp2: highmem.Machine) -> None:
    """A store through a never-mapped kmap slot faults at the pte level."""
    with pytest.raises(PageFault) as exc:
        smp2.store(CPU0_USER0 + 4, b"x")
    assert str(exc.value) == "Oops: page fault on CPU 0: write to 0xffff2004, whose pte is not present"


def test_tlb_top_of_address_space_is_an_address(smp2: highmem.Machine) -> None:
    """The last 4 bytes below 4 GiB are a valid (if unmapped) address: a fault, not an input error."""
    with pytest.raises(PageFault):
        smp2.load(0xFFFFFFFC, 4)


@pytest.mark.parametrize(
    ("op", "vaddr", "arg", "message"),
    [
        ("load", 0xFFFFFFFF, 2,
         "access of 2 bytes at 0xffffffff is out of range: virtual addresses of i386 run from 0x0 to 0xffffffff"),
        ("load", -1, 1,
         "access of 1 bytes at -0x1 is out of range: virtual addresses of i386 run from 0x0 to 0xffffffff"),
        ("load", PAGE_OFFSET, 0, "access of 0 bytes at 0xc0000000 is empty: a load or store moves at least one byte"),
        ("load", PAGE_OFFSET, -4,
         "access of -4 bytes at 0xc0000000 is empty: a load or store moves at least one byte"),
        ("store", 0xFFFFFFFF, b"ab",
         "access of 2 bytes at 0xffffffff is out of range: virtual addresses of i386 run from 0x0 to 0xffffffff"),
        ("store", -0x1000, b"a",
         "access of 1 bytes at -0x1000 is out of range: virtual addresses of i386 run from 0x0 to 0xffffffff"),
        ("store", PAGE_OFFSET, b"",
         "access of 0 bytes at 0xc0000000 is empty: a load or store moves at least one byte"),
        ("store", 1 << 32, b"a",
         "access of 1 bytes at 0x100000000 is out of range: virtual addresses of i386 run from 0x0 to 0xffffffff"),
    ],
    ids=["load-wrap", "load-negative", "load-empty", "load-negative-size", "store-wrap", "store-negative",
         "store-empty", "store-4g"],
)
def test_tlb_out_of_range_access_raises_and_changes_nothing(smp2: highmem.Machine, record, op: str, vaddr: int,
                                                            arg: object, message: str) -> None:
    """An access outside the 32-bit space is a HighmemError; TLBs, memory and the trace are untouched."""
    m = smp2
    page = m.alloc_highpage()
    v = m.kmap_atomic(page, "KM_USER0")
    m.store(v, b"keep")
    m.load(PAGE_OFFSET, 1)
    before = _snapshot(m)
    events = record(m)
    with pytest.raises(HighmemError) as exc:
        if op == "load":
            m.load(vaddr, arg)
        else:
            m.store(vaddr, arg)
    assert str(exc.value) == message
    assert _snapshot(m) == before
    assert events == []


def test_tlb_store_trace_on_hit_and_miss(smp2: highmem.Machine, record) -> None:
    """A store fills on a miss (dirtying the entry) and then hits."""
    m = smp2
    events = record(m)
    with m.process(cpu=0):
        m.store(PAGE_OFFSET + 0x8000, b"x")
        m.store(PAGE_OFFSET + 0x8001, b"y")
    assert events == [TlbFill(0, PAGE_OFFSET + 0x8000, 8), Store(0, "task", PAGE_OFFSET + 0x8000, 1, 8, False),
                      Store(0, "task", PAGE_OFFSET + 0x8001, 1, 8, True)]
    assert m.phys.read(0x8000, 2) == b"xy"


def test_tlb_flush_event_context_after_process_exit(smp2: highmem.Machine, record) -> None:
    """After a process on CPU 1 exits, CPU 1's events carry the label it had before, not the exited task's."""
    m = smp2
    before = [c.context for c in m.cpus]
    with m.process(cpu=1, name="worker"):
        pass
    assert [c.context for c in m.cpus] == before
    events = record(m)
    m.flush_tlb_all()
    # SMP flush_tlb_all: the IPI handler runs on CPU 1 first, then CPU 0 flushes itself.
    assert [(e.cpu, e.context) for e in events] == [(1, "IPI@1"), (0, "init")]


def test_tlb_boot_trace_names_init_context(smp2: highmem.Machine, record) -> None:
    """Outside process(), code runs as init on CPU 0, so every event of a kmap_atomic + load says 'init'."""
    m = smp2
    page = m.alloc_highpage()
    events = record(m)
    vaddr = m.kmap_atomic(page, "KM_USER0")
    m.load(vaddr, 1)
    assert [(e.kind, e.context) for e in events if hasattr(e, "context")] == [
        ("set_pte", "init"), ("tlb_flush_one", "init"), ("kmap_atomic", "init"), ("load", "init")]
