"""i386 page tables: entry bits, the two encodings, and the hardware walk.

Page tables live in simulated physical frames, as real ones do: a PTE is
bytes in a frame, ``set_pte`` is a store into that frame, and a pointer to
a PTE (``pte_t *``) is modelled by the PTE's *physical address*, so the
kernel's pointer arithmetic (``kmap_pte - idx``) is integer arithmetic on
entry-sized steps.

Geometries (2.4.22 include/asm-i386/pgtable-2level.h, pgtable-3level.h):

* non-PAE: two levels, PGDIR_SHIFT 22, 1024-entry pgd and PTE tables,
  4-byte entries, the pmd folded into the pgd; PSE large pages are 4 MiB.
* PAE (CONFIG_X86_PAE / HIGHMEM64G): three levels, PGDIR_SHIFT 30 with a
  4-entry pgd, PMD_SHIFT 21 with 512-entry pmd and PTE tables, 8-byte
  entries, 36-bit physical addresses; PSE large pages are 2 MiB.
"""

from __future__ import annotations

import struct

from highmem._record import field, record
from highmem.hw.physmem import PAGE_SHIFT, PhysicalMemory

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple
else:
    from highmem._typing import NamedTuple

__all__ = [
    "_PAGE_PRESENT", "_PAGE_RW", "_PAGE_USER", "_PAGE_PWT", "_PAGE_PCD",
    "_PAGE_ACCESSED", "_PAGE_DIRTY", "_PAGE_PSE", "_PAGE_GLOBAL", "_PAGE_NX",
    "_KERNPG_TABLE", "__PAGE_KERNEL",
    "Geometry", "NON_PAE", "PAE", "Walk", "KernelTables", "kernel_tables",
    "mk_pte", "pte_none", "pte_present", "pte_pfn", "pte_flags_str",
]

# include/asm-i386/pgtable.h (2.4.22)
_PAGE_PRESENT = 0x001
_PAGE_RW = 0x002
_PAGE_USER = 0x004
_PAGE_PWT = 0x008
_PAGE_PCD = 0x010
_PAGE_ACCESSED = 0x020
_PAGE_DIRTY = 0x040
_PAGE_PSE = 0x080
_PAGE_GLOBAL = 0x100
#: Execute disable: bit 63, in PAE entries only (a non-PAE entry has 32 bits).
_PAGE_NX = 1 << 63
_KERNPG_TABLE = _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY
__PAGE_KERNEL = _PAGE_PRESENT | _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED

_BIT_NAMES = (
    (_PAGE_PRESENT, "P"), (_PAGE_RW, "RW"), (_PAGE_USER, "U"), (_PAGE_PWT, "PWT"),
    (_PAGE_PCD, "PCD"), (_PAGE_ACCESSED, "A"), (_PAGE_DIRTY, "D"), (_PAGE_PSE, "PSE"),
    (_PAGE_GLOBAL, "G"), (_PAGE_NX, "NX"),
)


@record(frozen=True)
class Geometry:
    """One page-table encoding: shifts, table sizes, entry width (derived sizes precomputed)."""

    name: str
    levels: int
    PGDIR_SHIFT: int
    PTRS_PER_PGD: int
    PMD_SHIFT: int
    PTRS_PER_PMD: int
    PTRS_PER_PTE: int
    entry_size: int
    phys_bits: int
    PMD_SIZE: int = field(init=False)
    PMD_MASK: int = field(init=False)
    PGDIR_SIZE: int = field(init=False)
    #: Bits of an entry that hold the physical frame address.
    addr_mask: int = field(init=False)
    struct: struct.Struct = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "PMD_SIZE", 1 << self.PMD_SHIFT)
        object.__setattr__(self, "PMD_MASK", ~((1 << self.PMD_SHIFT) - 1) & 0xFFFFFFFF)
        object.__setattr__(self, "PGDIR_SIZE", 1 << self.PGDIR_SHIFT)
        object.__setattr__(self, "addr_mask", ((1 << self.phys_bits) - 1) & ~0xFFF)
        object.__setattr__(self, "struct", _STRUCTS[self.entry_size])

    def pgd_index(self, vaddr: int) -> int:
        return (vaddr >> self.PGDIR_SHIFT) & (self.PTRS_PER_PGD - 1)

    def pmd_index(self, vaddr: int) -> int:
        return (vaddr >> self.PMD_SHIFT) & (self.PTRS_PER_PMD - 1)

    def pte_index(self, vaddr: int) -> int:
        return (vaddr >> PAGE_SHIFT) & (self.PTRS_PER_PTE - 1)


_STRUCTS = {4: struct.Struct("<I"), 8: struct.Struct("<Q")}

NON_PAE = Geometry("i386 2-level", 2, 22, 1024, 22, 1, 1024, 4, 32)
PAE = Geometry("i386 PAE 3-level", 3, 30, 4, 21, 512, 512, 8, 36)


def mk_pte(pfn: int, prot: int) -> int:
    """``mk_pte``: the entry mapping frame ``pfn`` with protection bits ``prot``."""
    return (pfn << PAGE_SHIFT) | prot


def pte_none(pte: int) -> bool:
    """``pte_none``: the entry is all zero (PAE: both halves)."""
    return pte == 0


def pte_present(pte: int) -> bool:
    """``pte_present``."""
    return bool(pte & _PAGE_PRESENT)


def pte_pfn(pte: int, geometry: Geometry) -> int:
    """Frame number held in ``pte``."""
    return (pte & geometry.addr_mask) >> PAGE_SHIFT


def pte_flags_str(pte: int) -> str:
    """Set bits of ``pte`` by name, e.g. ``P|RW|A|D|G``; ``none`` for an empty entry."""
    if pte == 0:
        return "none"
    return "|".join(name for bit, name in _BIT_NAMES if pte & bit) or "-"


class Walk(NamedTuple):
    """Result of a hardware page-table walk.

    ``pfn`` is -1 when the translation is not present; ``level`` then names
    the level that was missing (``pgd``, ``pmd`` or ``pte``).  ``ptep`` is the
    physical address of the last entry read.
    """

    pfn: int
    entry: int
    ptep: int
    level: str


# Walk results are built with tuple.__new__: the same NamedTuple without its Python-level __new__ frame.
_tnew = tuple.__new__


def walk(mem: PhysicalMemory, geo: Geometry, pgd_phys: int, vaddr: int) -> Walk:
    """Translate ``vaddr`` by reading the tables rooted at ``pgd_phys`` (any context)."""
    esz = geo.entry_size
    unpack_from = geo.struct.unpack_from
    amask = geo.addr_mask
    frames = mem.frames
    ptep = pgd_phys + ((vaddr >> geo.PGDIR_SHIFT) & (geo.PTRS_PER_PGD - 1)) * esz
    fr = frames.get(ptep >> PAGE_SHIFT)
    entry = 0 if fr is None else unpack_from(fr, ptep & 0xFFF)[0]
    if not entry & _PAGE_PRESENT:
        return _tnew(Walk, (-1, entry, ptep, "pgd"))
    if geo.levels == 3:
        ptep = (entry & amask) + ((vaddr >> geo.PMD_SHIFT) & (geo.PTRS_PER_PMD - 1)) * esz
        fr = frames.get(ptep >> PAGE_SHIFT)
        entry = 0 if fr is None else unpack_from(fr, ptep & 0xFFF)[0]
        if not entry & _PAGE_PRESENT:
            return _tnew(Walk, (-1, entry, ptep, "pmd"))
    # Non-PAE: the pgd entry *is* the pmd entry (folded level).
    if entry & _PAGE_PSE:
        span = 1 << (geo.PMD_SHIFT - PAGE_SHIFT)
        base = ((entry & amask) >> PAGE_SHIFT) & ~(span - 1)
        return _tnew(Walk, (base + ((vaddr >> PAGE_SHIFT) & (span - 1)), entry, ptep, "pmd"))
    ptep = (entry & amask) + ((vaddr >> PAGE_SHIFT) & (geo.PTRS_PER_PTE - 1)) * esz
    fr = frames.get(ptep >> PAGE_SHIFT)
    entry = 0 if fr is None else unpack_from(fr, ptep & 0xFFF)[0]
    if not entry & _PAGE_PRESENT:
        return _tnew(Walk, (-1, entry, ptep, "pte"))
    return _tnew(Walk, ((entry & amask) >> PAGE_SHIFT, entry, ptep, "pte"))


class KernelTables:
    """Where the page tables rooted at one pgd are, as a walk would find them: the pages of
    directory entries (the pgd, and with PAE the pmd pages), each page of PTEs with the virtual
    page its first entry maps, and the directory entries that map a large (PSE) page.
    Built by :func:`kernel_tables`; a snapshot, not updated by later stores."""

    __slots__ = ("geo", "pgd", "pmd_page", "dir_pages", "pte_pages", "large")

    def __init__(self, geo: Geometry, pgd: int) -> None:
        self.geo = geo
        self.pgd = pgd
        #: (PAE) address of a pgd entry -> the pmd page it points to
        self.pmd_page: dict[int, int] = {}
        #: frames of the pgd and of the pmd pages
        self.dir_pages: set[int] = {pgd >> PAGE_SHIFT}
        #: frame of a page of PTEs -> the virtual page its first entry maps
        self.pte_pages: dict[int, int] = {}
        #: addresses of the directory entries that map a large page
        self.large: set[int] = set()

    def dir_entries(self, vaddr: int) -> tuple[int, ...]:
        """Physical addresses of the directory entries a walk of ``vaddr`` reads, top first."""
        geo = self.geo
        pgdp = self.pgd + geo.pgd_index(vaddr) * geo.entry_size
        pmd = self.pmd_page.get(pgdp)
        if pmd is None:
            return (pgdp,)
        return (pgdp, pmd + geo.pmd_index(vaddr) * geo.entry_size)


def kernel_tables(mem: PhysicalMemory, geo: Geometry, pgd_phys: int) -> KernelTables:
    """Read the tables rooted at ``pgd_phys`` (see :class:`KernelTables`); any context."""
    t = KernelTables(geo, pgd_phys)
    esz = geo.entry_size

    def entry(phys: int) -> int:
        return int(geo.struct.unpack(mem.read(phys, esz))[0])

    for i in range(geo.PTRS_PER_PGD):
        pgdp = pgd_phys + i * esz
        if geo.levels == 3:
            e = entry(pgdp)
            if not e & _PAGE_PRESENT:
                continue
            pmd = e & geo.addr_mask
            t.pmd_page[pgdp] = pmd
            t.dir_pages.add(pmd >> PAGE_SHIFT)
            dirs = [(pmd + j * esz, i * geo.PGDIR_SIZE + j * geo.PMD_SIZE) for j in range(geo.PTRS_PER_PMD)]
        else:
            dirs = [(pgdp, i * geo.PGDIR_SIZE)]
        for pmdp, vaddr in dirs:
            e = entry(pmdp)
            if not e & _PAGE_PRESENT:
                continue
            if e & _PAGE_PSE:
                t.large.add(pmdp)
            else:
                t.pte_pages[(e & geo.addr_mask) >> PAGE_SHIFT] = vaddr >> PAGE_SHIFT
    return t
