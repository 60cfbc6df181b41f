"""Boot: memory sizing, zones, ``mem_map``, kernel page tables and ``kmap_init``.

Follows 2.4.22 arch/i386/kernel/setup.c (``find_max_low_pfn``) and
arch/i386/mm/init.c (``pagetable_init``, ``fixrange_init``, ``kmap_init``,
``set_max_mapnr_init``):

1. ``max_pfn`` from the RAM size; lowmem ends at MAXMEM_PFN (896 MiB) when
   there is more RAM; the rest is highmem (or unused without HIGHMEM).
2. ``pagetable_init``: lowmem mapped at PAGE_OFFSET with PSE large pages
   (global with PGE) or PTE pages of PAGE_KERNEL entries; then the fixmap
   and pkmap *page-table structure only* (``fixrange_init``), PTEs empty.
   Page-table pages come from a bump allocator (``alloc_bootmem_low_pages``)
   so they are consecutive in physical memory, which keeps
   ``kmap_pte - idx`` valid across table boundaries.
3. ``kmap_init``: ``kmap_pte`` = the PTE of ``__fix_to_virt(FIX_KMAP_BEGIN)``.
4. ``highmem_start_page = mem_map + highstart_pfn``,
   ``high_memory = __va(max_low_pfn * PAGE_SIZE)``; lowmem ``page->virtual``.
"""

from __future__ import annotations

from array import array

from highmem.errors import SimulatorError
from highmem.hw.pagetable import _KERNPG_TABLE, _PAGE_GLOBAL, _PAGE_PRESENT, _PAGE_PSE, Geometry
from highmem.hw.physmem import PAGE_SHIFT, PAGE_SIZE, PG_reserved, fill_array

TYPE_CHECKING = False

if TYPE_CHECKING:
    from highmem.kernel.machine import Machine

__all__ = ["boot_memory", "pagetable_init", "kmap_init", "PAGE_OFFSET", "MAXMEM", "MAXMEM_PFN"]

PAGE_OFFSET = 0xC0000000
VMALLOC_RESERVE = 128 << 20
#: -PAGE_OFFSET - VMALLOC_RESERVE (include/asm-i386/page.h): 896 MiB.
MAXMEM = (1 << 32) - PAGE_OFFSET - VMALLOC_RESERVE
MAXMEM_PFN = MAXMEM >> PAGE_SHIFT
MAX_DMA_ADDRESS_PFN = (16 << 20) >> PAGE_SHIFT

# Physical placement of the kernel image (loaded at 1 MiB, arch/i386/kernel/head.S):
# swapper_pg_dir at +0x1000, empty_zero_page at +0x4000.
_KERNEL_START_PFN = 0x100
SWAPPER_PG_DIR_PFN = 0x101
EMPTY_ZERO_PAGE_PFN = 0x104
#: Departure from Linux: the kernel image is taken to end at 4 MiB; bootmem
#: allocations start there instead of after the real _end symbol.
BOOTMEM_START_PFN = 0x400


def boot_memory(m: Machine) -> None:
    """``find_max_low_pfn`` and ``highstart_pfn`` with 2.4.22's boot messages."""
    max_pfn = m.config.memory >> PAGE_SHIFT
    max_low_pfn = max_pfn
    maxmem_pfn = m.MAXMEM >> PAGE_SHIFT
    if max_pfn > maxmem_pfn:
        max_low_pfn = maxmem_pfn
        if not m.config.options["HIGHMEM"]:
            m.boot_log.append(f"Warning only {m.MAXMEM >> 20}MB will be used.")
            m.boot_log.append("Use a HIGHMEM enabled kernel.")
            max_pfn = maxmem_pfn
    highstart_pfn = max_pfn
    if max_pfn > max_low_pfn:
        highstart_pfn = max_low_pfn
        m.boot_log.append(f"{(max_pfn - highstart_pfn) >> (20 - PAGE_SHIFT)}MB HIGHMEM available.")
    m.boot_log.append(f"{max_low_pfn >> (20 - PAGE_SHIFT)}MB LOWMEM available.")
    m.max_pfn = max_pfn
    m.max_low_pfn = max_low_pfn
    m.highstart_pfn = highstart_pfn


class Bootmem:
    """``alloc_bootmem_low_pages``: consecutive zeroed frames from BOOTMEM_START_PFN."""

    def __init__(self, m: Machine) -> None:
        self.m = m
        self.next_pfn = BOOTMEM_START_PFN

    def alloc_page(self) -> int:
        pfn = self.next_pfn
        if pfn >= self.m.max_low_pfn:
            raise SimulatorError("bootmem ran out of low memory")
        self.next_pfn += 1
        self.m.phys.frame(pfn)  # bootmem pages are zeroed
        self.m.mem_map.set_flag(pfn, PG_reserved)
        return pfn


def _entry(m: Machine, ptep: int) -> int:
    return int(m.pte_struct.unpack(m.phys.read(ptep, m.pte_size))[0])


def _set(m: Machine, ptep: int, value: int) -> None:
    m.phys.write(ptep, m.pte_struct.pack(value))


def _pmd_entry_addr(m: Machine, vaddr: int) -> int:
    """Physical address of the pmd entry of ``vaddr`` (the pgd entry, non-PAE)."""
    geo: Geometry = m.geometry
    pgdp = m.swapper_pg_dir + geo.pgd_index(vaddr) * m.pte_size
    if geo.levels == 2:
        return pgdp
    pgd = _entry(m, pgdp)
    return (pgd & geo.addr_mask) + geo.pmd_index(vaddr) * m.pte_size


def pte_addr(m: Machine, vaddr: int) -> int:
    """Physical address of the PTE of ``vaddr`` (``pte_offset(pmd_offset(pgd_offset_k(v)))``)."""
    pmd = _entry(m, _pmd_entry_addr(m, vaddr))
    if not pmd & _PAGE_PRESENT or pmd & _PAGE_PSE:
        raise SimulatorError(f"no PTE page for {vaddr:#x}")
    return (pmd & m.geometry.addr_mask) + m.geometry.pte_index(vaddr) * m.pte_size


def fixrange_init(m: Machine, bootmem: Bootmem, start: int, end: int) -> None:
    """Allocate the missing PTE pages of ``[start, end)`` (``end`` 0 = top of memory), PTEs empty."""
    geo = m.geometry
    vaddr = start
    while vaddr < (end or (1 << 32)):
        pmdp = _pmd_entry_addr(m, vaddr)
        if _entry(m, pmdp) == 0:
            pfn = bootmem.alloc_page()
            _set(m, pmdp, _KERNPG_TABLE | (pfn << PAGE_SHIFT))
        vaddr += geo.PMD_SIZE


def pagetable_init(m: Machine) -> None:
    """Build swapper_pg_dir: lowmem at PAGE_OFFSET, fixmap and pkmap structure."""
    geo = m.geometry
    bootmem = Bootmem(m)
    # The kernel image's frames are reserved (one store of 768 flag words).
    fill_array(m.mem_map.flags, _KERNEL_START_PFN,
               array("I", [1 << PG_reserved]).tobytes() * (BOOTMEM_START_PFN - _KERNEL_START_PFN))
    m.phys.frame(SWAPPER_PG_DIR_PFN)
    m.phys.frame(EMPTY_ZERO_PAGE_PFN)
    pgd_base = SWAPPER_PG_DIR_PFN << PAGE_SHIFT
    m.swapper_pg_dir = pgd_base
    esz = m.pte_size
    if geo.levels == 3:
        # Every pgd entry starts out pointing at empty_zero_page as an all-empty pmd.
        # Departure from Linux: the SMP trampoline copy of the kernel entry into
        # pgd[0] is not made, since zap_low_mappings() undoes it once CPUs are up.
        for i in range(geo.PTRS_PER_PGD):
            _set(m, pgd_base + i * esz, 1 | (EMPTY_ZERO_PAGE_PFN << PAGE_SHIFT))
    end = PAGE_OFFSET + (m.max_low_pfn << PAGE_SHIFT)
    big = _PAGE_PSE | (_PAGE_GLOBAL if m.config.cpu_has_pge else 0)
    for i in range(geo.pgd_index(PAGE_OFFSET), geo.PTRS_PER_PGD):
        vaddr = i * geo.PGDIR_SIZE
        if vaddr >= end:
            break
        if geo.levels == 3:
            pmd_pfn = bootmem.alloc_page()
            _set(m, pgd_base + i * esz, 1 | (pmd_pfn << PAGE_SHIFT))
            pmd_base = pmd_pfn << PAGE_SHIFT
        else:
            pmd_base = pgd_base + i * esz
        for j in range(geo.PTRS_PER_PMD):
            vaddr = i * geo.PGDIR_SIZE + j * geo.PMD_SIZE
            if vaddr >= end:
                break
            phys = vaddr - PAGE_OFFSET
            if m.config.cpu_has_pse:
                _set(m, pmd_base + j * esz, _KERNPG_TABLE | big | phys)
                continue
            pte_pfn = bootmem.alloc_page()
            frame = m.phys.frame(pte_pfn)
            count = min(geo.PTRS_PER_PTE, (end - vaddr) >> PAGE_SHIFT)
            first = phys >> PAGE_SHIFT
            fmt = "I" if esz == 4 else "Q"
            ptes = array(fmt, ((first + k) << PAGE_SHIFT | m.kmap_prot for k in range(count)))
            frame[: count * esz] = ptes.tobytes()
            _set(m, pmd_base + j * esz, _KERNPG_TABLE | (pte_pfn << PAGE_SHIFT))
    fix = m.fixmap
    fixrange_init(m, bootmem, fix.fix_to_virt_unchecked(fix.end_of_fixed - 1) & geo.PMD_MASK, 0)
    if m.config.options["HIGHMEM"]:
        fixrange_init(m, bootmem, m.PKMAP_BASE, m.PKMAP_BASE + PAGE_SIZE * m.LAST_PKMAP)
        m.pkmap_page_table = pte_addr(m, m.PKMAP_BASE)
    m.bootmem_end_pfn = bootmem.next_pfn


def kmap_init(m: Machine) -> None:
    """Cache ``kmap_pte``, the PTE of the first kmap slot (``__fix_to_virt(FIX_KMAP_BEGIN)``)."""
    fix = m.fixmap
    if fix.FIX_KMAP_BEGIN is None:
        return
    m.kmap_pte = pte_addr(m, fix.fix_to_virt_unchecked(fix.FIX_KMAP_BEGIN))
    # kmap_pte - idx must be the PTE of every slot: boot allocated the fixmap
    # PTE pages consecutively, which is what makes that pointer arithmetic hold.
    for idx in (0, fix.FIX_KMAP_END - fix.FIX_KMAP_BEGIN):  # type: ignore[operator]
        if pte_addr(m, fix.fix_to_virt_unchecked(fix.FIX_KMAP_BEGIN + idx)) != m.kmap_pte - idx * m.pte_size:
            raise SimulatorError("fixmap PTE pages are not contiguous: kmap_pte - idx is broken")


def set_lowmem_virtual(m: Machine) -> None:
    """``page->virtual = __va(pfn << PAGE_SHIFT)`` for every lowmem frame (free_area_init_core).

    Recorded as the direct map's base and end (see ``MemMap.get_virtual``)."""
    m.mem_map.direct_map_base = PAGE_OFFSET
    m.mem_map.direct_map_end = m.max_low_pfn
