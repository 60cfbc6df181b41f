"""Boot of 2.4.22 (spec 1.7): memory sizing, zones, mem_map, the lowmem direct map, empty kmap PTEs."""

from __future__ import annotations

import pytest

import highmem
from highmem import Zone
from highmem.errors import PageFault

MiB = 1 << 20
PAGE_OFFSET = 0xC0000000
MAXMEM_PFN = 0x38000
DMA_PFN = (16 * MiB) >> 12
#: Spec 1.9: init_emergency_pool fills POOL_SIZE (32) pages and buffer_heads when there is highmem.
BOUNCE_POOL = "allocated 32 pages and 32 bhs reserved for the highmem bounces"

PAGING = [
    pytest.param(False, True, id="2level-pse"),
    pytest.param(False, False, id="2level-4k"),
    pytest.param(True, True, id="pae-pse"),
    pytest.param(True, False, id="pae-4k"),
]


def _entry(machine: highmem.Machine, phys: int) -> int:
    return int.from_bytes(machine.phys.read(phys, machine.pte_size), "little")


def test_boot_zones_of_2g_machine() -> None:
    """2 GiB: ZONE_DMA below 16 MiB, ZONE_NORMAL up to max_low_pfn 0x38000, ZONE_HIGHMEM above."""
    m = highmem.boot(memory="2G")
    assert (m.max_pfn, m.max_low_pfn, m.highstart_pfn) == (0x80000, MAXMEM_PFN, MAXMEM_PFN)
    assert m.mem_map.zone_span(Zone.ZONE_DMA) == (0, DMA_PFN)
    assert m.mem_map.zone_span(Zone.ZONE_NORMAL) == (DMA_PFN, MAXMEM_PFN)
    assert m.mem_map.zone_span(Zone.ZONE_HIGHMEM) == (MAXMEM_PFN, 0x80000)
    zones = {pfn: m.page(pfn).zone for pfn in (0, DMA_PFN - 1, DMA_PFN, MAXMEM_PFN - 1, MAXMEM_PFN, 0x7FFFF)}
    assert zones == {0: Zone.ZONE_DMA, DMA_PFN - 1: Zone.ZONE_DMA, DMA_PFN: Zone.ZONE_NORMAL,
                     MAXMEM_PFN - 1: Zone.ZONE_NORMAL, MAXMEM_PFN: Zone.ZONE_HIGHMEM, 0x7FFFF: Zone.ZONE_HIGHMEM}


def test_boot_log_of_2g_machine() -> None:
    """2 GiB with HIGHMEM prints 1152MB HIGHMEM and 896MB LOWMEM, then the bounce pool initcall's line."""
    m = highmem.boot(memory="2G")
    assert m.boot_log == ["1152MB HIGHMEM available.", "896MB LOWMEM available.", BOUNCE_POOL]


def test_boot_log_of_4g_machine() -> None:
    """4 GiB non-PAE: 3200MB of highmem."""
    m = highmem.boot(memory="4G")
    assert m.boot_log == ["3200MB HIGHMEM available.", "896MB LOWMEM available.", BOUNCE_POOL]
    assert m.max_pfn == 1 << 20


def test_boot_512m_machine_has_no_highmem() -> None:
    """512 MiB: all memory is lowmem, ZONE_HIGHMEM is empty and alloc_highpage fails."""
    m = highmem.boot(memory="512M")
    assert (m.max_pfn, m.max_low_pfn, m.highstart_pfn) == (0x20000, 0x20000, 0x20000)
    assert "512MB LOWMEM available." in m.boot_log
    assert BOUNCE_POOL not in m.boot_log  # init_emergency_pool does nothing without highmem
    assert m.mem_map.zone_span(Zone.ZONE_HIGHMEM) == (0x20000, 0x20000)
    assert m.highmem_start_page.pfn == 0x20000
    assert m.high_memory == PAGE_OFFSET + 512 * MiB
    # (0xe0000000 + 16 MiB - 1) & ~(8 MiB - 1)
    assert m.VMALLOC_START == 0xE0800000
    with pytest.raises(highmem.HighmemError, match="^this machine has no free high memory"):
        m.alloc_highpage()


def test_boot_kmap_atomic_of_512m_page_is_direct_map(record) -> None:
    """On a 512 MiB machine kmap_atomic of any page is page_address: no PTE write, no flush."""
    m = highmem.boot(memory="512M")
    events = record(m)
    page = m.page(0x1FFFF)
    assert m.kmap_atomic(page, "KM_USER0") == PAGE_OFFSET + 0x1FFFF * 4096
    assert [e.kind for e in events] == ["kmap_atomic"]


@pytest.mark.parametrize("pae", [False, True], ids=["2level", "pae"])
def test_boot_layout_constants(pae: bool) -> None:
    """With 896 MiB lowmem: high_memory 0xf8000000, VMALLOC 0xf8800000..0xfdffe000, PKMAP_BASE 0xfe000000."""
    m = highmem.boot(memory="2G", pae=pae)
    assert m.highmem_start_page.pfn == MAXMEM_PFN
    assert m.high_memory == PAGE_OFFSET + MAXMEM_PFN * 4096 == 0xF8000000
    assert m.VMALLOC_START == (m.high_memory + 2 * 8 * MiB - 1) & ~(8 * MiB - 1) == 0xF8800000
    assert m.VMALLOC_END == 0xFDFFE000
    assert m.PKMAP_BASE == 0xFE000000
    assert m.LAST_PKMAP == (512 if pae else 1024)
    assert m.PAGE_OFFSET == PAGE_OFFSET


def test_boot_without_highmem_caps_memory() -> None:
    """HIGHMEM=n with 2 GiB warns, uses 896 MiB, and VMALLOC_END is FIXADDR_START - 2 pages."""
    m = highmem.boot(memory="2G", config={"HIGHMEM": False})
    assert m.boot_log == ["Warning only 896MB will be used.", "Use a HIGHMEM enabled kernel.",
                          "896MB LOWMEM available."]
    assert (m.max_pfn, m.max_low_pfn) == (MAXMEM_PFN, MAXMEM_PFN)
    assert m.VMALLOC_END == m.FIXADDR_START - 2 * 4096 == 0xFFFF5000 - 0x2000


def test_boot_page_virtual_lowmem_and_highmem() -> None:
    """page->virtual is __va(pfn << 12) for lowmem frames and 0 for high frames."""
    m = highmem.boot(memory="2G")
    for pfn in (0, 1, DMA_PFN, 0x12345, MAXMEM_PFN - 1):
        assert m.page(pfn).virtual == PAGE_OFFSET + pfn * 4096
        assert m.page_address(m.page(pfn)) == PAGE_OFFSET + pfn * 4096
    for pfn in (MAXMEM_PFN, 0x7FFFF):
        assert m.page(pfn).virtual == 0
        assert m.page_address(m.page(pfn)) == 0


def test_boot_pg_highmem_flag() -> None:
    """High frames carry PG_highmem and PageHighMem is true exactly for them."""
    m = highmem.boot(memory="2G")
    assert "PG_highmem" in m.page(MAXMEM_PFN).flag_names
    assert "PG_highmem" in m.page(0x7FFFF).flag_names
    assert "PG_highmem" not in m.page(MAXMEM_PFN - 1).flag_names
    assert "PG_highmem" not in m.page(0).flag_names
    assert m.page(MAXMEM_PFN).flags & (1 << 11)
    assert [m.PageHighMem(m.page(p)) for p in (0, MAXMEM_PFN - 1, MAXMEM_PFN)] == [False, False, True]


def test_boot_alloc_highpage_is_high() -> None:
    """alloc_highpage returns a ZONE_HIGHMEM page at or above highmem_start_page."""
    m = highmem.boot(memory="2G")
    page = m.alloc_highpage()
    assert page.zone is Zone.ZONE_HIGHMEM
    assert page >= m.highmem_start_page


def test_boot_page_of_nonexistent_frame_raises() -> None:
    """machine.page() of a frame past the end of memory is a HighmemError naming it."""
    m = highmem.boot(memory="2G")
    with pytest.raises(highmem.HighmemError) as exc:
        m.page(0x80000)
    assert str(exc.value) == "page frame 0x80000 does not exist: this machine has frames 0 to 0x7ffff"


@pytest.mark.parametrize(("pae", "pse"), PAGING)
def test_boot_kmap_and_pkmap_ptes_are_none(pae: bool, pse: bool) -> None:
    """Right after boot every kmap slot PTE (kmap_pte - idx) and every pkmap PTE is none."""
    m = highmem.boot(memory="2G", pae=pae, cpu_has_pse=pse)
    esz = 8 if pae else 4
    assert m.pte_size == esz
    assert m.kmap_pte != 0 and m.pkmap_page_table != 0
    assert [_entry(m, m.kmap_pte - idx * esz) for idx in range(8 * 32)] == [0] * 256
    last = 512 if pae else 1024
    assert [_entry(m, m.pkmap_page_table + i * esz) for i in range(last)] == [0] * last


@pytest.mark.parametrize(("pae", "pse"), PAGING)
def test_boot_kmap_pte_is_pte_of_first_slot(pae: bool, pse: bool) -> None:
    """kmap_pte is the PTE of __fix_to_virt(FIX_KMAP_BEGIN) = 0xffff5000, found by walking swapper_pg_dir."""
    m = highmem.boot(memory="2G", pae=pae, cpu_has_pse=pse)
    vaddr = 0xFFFF5000
    mask = (((1 << 36) - 1) if pae else 0xFFFFFFFF) & ~0xFFF
    if pae:
        pmd_table = _entry(m, m.swapper_pg_dir + (vaddr >> 30) * 8) & mask
        table = _entry(m, pmd_table + ((vaddr >> 21) & 511) * 8) & mask
        ptep = table + ((vaddr >> 12) & 511) * 8
    else:
        table = _entry(m, m.swapper_pg_dir + (vaddr >> 22) * 4) & mask
        ptep = table + ((vaddr >> 12) & 1023) * 4
    assert m.kmap_pte == ptep


@pytest.mark.parametrize(("pae", "pse"), PAGING)
def test_boot_lowmem_direct_map_reads_physical(pae: bool, pse: bool) -> None:
    """A load at PAGE_OFFSET + x reads physical address x, for x across lowmem."""
    m = highmem.boot(memory="2G", pae=pae, cpu_has_pse=pse)
    for phys in (0x123, 0x1000, 16 * MiB + 5, 0x12345678, MAXMEM_PFN * 4096 - 16):
        data = phys.to_bytes(8, "little")
        m.phys.write(phys, data)
        assert m.load(PAGE_OFFSET + phys, 8) == data


@pytest.mark.parametrize(("pae", "pse"), PAGING)
def test_boot_lowmem_store_lands_in_physical(pae: bool, pse: bool) -> None:
    """A store at PAGE_OFFSET + x is visible in physical memory at x."""
    m = highmem.boot(memory="2G", pae=pae, cpu_has_pse=pse)
    m.store(PAGE_OFFSET + 0x2345678, b"direct map")
    assert m.phys.read(0x2345678, 10) == b"direct map"
    assert m.page_bytes(m.page(0x2345), 0x678, 10) == b"direct map"


@pytest.mark.parametrize(("pae", "pse"), PAGING)
def test_boot_high_memory_is_not_mapped(pae: bool, pse: bool) -> None:
    """The first address past the direct map (high_memory, 0xf8000000) faults."""
    m = highmem.boot(memory="2G", pae=pae, cpu_has_pse=pse)
    with pytest.raises(PageFault) as exc:
        m.load(0xF8000000, 4)
    assert exc.value.vaddr == 0xF8000000


def test_boot_lowmem_ptes_without_pse() -> None:
    """Without PSE, lowmem is mapped by PTE pages of PAGE_KERNEL|GLOBAL entries (0x163)."""
    m = highmem.boot(memory="2G", cpu_has_pse=False)
    table = _entry(m, m.swapper_pg_dir + 768 * 4) & ~0xFFF
    assert _entry(m, m.swapper_pg_dir + 768 * 4) & 0x80 == 0
    assert [_entry(m, table + i * 4) for i in (0, 1, 1023)] == [0x163, 0x1163, (1023 << 12) | 0x163]


def test_boot_lowmem_large_pages_with_pse() -> None:
    """With PSE, each pgd entry of lowmem is a global 4 MiB page (PSE|GLOBAL|PAGE_KERNEL bits)."""
    m = highmem.boot(memory="2G")
    assert _entry(m, m.swapper_pg_dir + 768 * 4) == 0x1E3
    assert _entry(m, m.swapper_pg_dir + 769 * 4) == (4 * MiB) | 0x1E3
    assert _entry(m, m.swapper_pg_dir + 768 * 4 + 224 * 4) == 0  # 0xf8000000: past lowmem


def test_boot_64g_pae_is_sparse() -> None:
    """A 64 GiB PAE machine boots materialising only a handful of frames, and its top frame is usable."""
    m = highmem.boot(pae=True, memory="64G")
    assert m.phys.resident_frames < 64
    assert m.max_pfn == 1 << 24
    assert m.boot_log == ["64640MB HIGHMEM available.", "896MB LOWMEM available.", BOUNCE_POOL]
    top = m.page((1 << 24) - 1)
    assert top.zone is Zone.ZONE_HIGHMEM
    vaddr = m.kmap_atomic(top, "KM_USER0")
    m.store(vaddr + 100, b"top of 64G")
    assert m.page_bytes(top, 100, 10) == b"top of 64G"
    assert m.phys.read(((1 << 24) - 1) * 4096 + 100, 10) == b"top of 64G"
    assert m.phys.resident_frames < 64


def test_boot_mem_map_is_private_to_a_forked_process() -> None:
    """A process forked after the boot (a --jobs worker) that writes mem_map leaves the parent's unchanged."""
    import os

    m = highmem.boot(memory="2G")
    pfn = m.max_low_pfn - 1
    before = int(m.mem_map.count[pfn])
    pid = os.fork()
    if pid == 0:  # the child: write, then leave without running the test process's exit handlers
        m.mem_map.count[pfn] = before + 7
        os._exit(0 if int(m.mem_map.count[pfn]) == before + 7 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert int(m.mem_map.count[pfn]) == before
