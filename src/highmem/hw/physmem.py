"""Physical memory: page frames, their bytes, and ``struct page`` metadata.

Sparse by construction.  A frame's bytes exist only once something writes
to it (an unwritten frame reads as zeros), and the per-frame metadata
(``mem_map``: flags, count, virtual) lives in flat arrays over anonymous
memory that the operating system backs lazily, so a 64 GiB PAE machine
costs memory only for the frames and metadata that are actually touched.
:class:`Page` handles are made on demand; there is never one Python object
per frame.

Zones follow 2.4.22 (arch/i386/mm/init.c ``zone_sizes_init``,
arch/i386/kernel/setup.c ``find_max_low_pfn``): ZONE_DMA below
MAX_DMA_ADDRESS (16 MiB), ZONE_NORMAL up to ``max_low_pfn`` (at most
MAXMEM_PFN, 896 MiB), ZONE_HIGHMEM above.
"""

from __future__ import annotations

import mmap
from enum import IntEnum

from highmem.errors import HighmemError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal, NewType
else:
    from highmem._typing import NewType

__all__ = [
    "PAGE_SHIFT",
    "PAGE_SIZE",
    "PAGE_MASK",
    "PhysAddr",
    "Zone",
    "Page",
    "MemMap",
    "PhysicalMemory",
    "PG_highmem",
    "PG_reserved",
]

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
#: As the kernel's PAGE_MASK: clears the offset bits of a 32-bit address.
PAGE_MASK = 0xFFFFF000

PhysAddr = NewType("PhysAddr", int)

# include/linux/mm.h (2.4.22) page flag bit numbers.
PG_locked = 0
PG_error = 1
PG_referenced = 2
PG_uptodate = 3
PG_dirty = 4
PG_lru = 6
PG_active = 7
PG_slab = 8
PG_highmem = 11
PG_reserved = 14

_FLAG_NAMES = {
    PG_locked: "PG_locked", PG_error: "PG_error", PG_referenced: "PG_referenced",
    PG_uptodate: "PG_uptodate", PG_dirty: "PG_dirty", PG_lru: "PG_lru",
    PG_active: "PG_active", PG_slab: "PG_slab", PG_highmem: "PG_highmem",
    PG_reserved: "PG_reserved",
}

_ZERO_FRAME = bytes(PAGE_SIZE)


class Zone(IntEnum):
    """The three i386 zones of 2.4.22 (include/linux/mmzone.h)."""

    ZONE_DMA = 0
    ZONE_NORMAL = 1
    ZONE_HIGHMEM = 2


def _lazy_array(n: int, fmt: Literal["i", "I"]) -> memoryview:
    """An ``n``-entry zeroed 32-bit array over anonymous memory the OS fills in lazily.

    Private: an anonymous mmap is shared by default, so a process forked after the boot (a worker
    of ``--jobs``) would write the very memory of its parent's machine, and of its siblings'.
    """
    size = max(n * 4, 4)
    return memoryview(mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)).cast(fmt)


def fill_array(view: memoryview, start: int, blob: bytes) -> None:
    """Copy native 32-bit entries ``blob`` into ``view`` from entry ``start`` (one memcpy)."""
    view.cast("B")[start * 4 : start * 4 + len(blob)] = blob


class Page:
    """A handle on one ``struct page`` of ``mem_map``: cheap, made on demand.

    Two handles on the same frame of the same machine compare equal.  Pages
    order by frame number, as the kernel's ``page < highmem_start_page``
    pointer comparison does.
    """

    __slots__ = ("pfn", "mem_map")

    def __init__(self, mem_map: MemMap, pfn: int) -> None:
        self.mem_map = mem_map
        self.pfn = pfn

    def __repr__(self) -> str:
        return f"<Page pfn={self.pfn:#x} {self.zone.name}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Page) and other.pfn == self.pfn and other.mem_map is self.mem_map

    def __hash__(self) -> int:
        return hash(self.pfn)

    def __lt__(self, other: Page) -> bool:
        return self.pfn < other.pfn

    def __le__(self, other: Page) -> bool:
        return self.pfn <= other.pfn

    @property
    def phys(self) -> PhysAddr:
        """Physical address of the frame (``page_to_phys``)."""
        return PhysAddr(self.pfn << PAGE_SHIFT)

    @property
    def zone(self) -> Zone:
        """The zone the frame belongs to."""
        return self.mem_map.zone_of(self.pfn)

    @property
    def flags(self) -> int:
        """``page->flags`` as a bit mask of ``1 << PG_*``."""
        return self.mem_map.get_flags(self.pfn)

    @property
    def flag_names(self) -> list[str]:
        """The set flags, by name (``PG_highmem``, ...)."""
        f = self.flags
        return [name for bit, name in sorted(_FLAG_NAMES.items()) if f & (1 << bit)]

    @property
    def count(self) -> int:
        """``page->count`` (the reference count)."""
        return int(self.mem_map.count[self.pfn])

    @property
    def virtual(self) -> int:
        """``page->virtual``: the kernel virtual address, or 0 if unmapped (highmem)."""
        return self.mem_map.get_virtual(self.pfn)


class MemMap:
    """``mem_map``: the array of ``struct page``, one per frame below ``max_pfn``.

    State per frame: ``flags``, ``count`` and ``virtual`` arrays (zero until
    written).  ``PG_highmem`` is derived, not stored (see ``get_flags``).
    """

    def __init__(self, max_pfn: int, max_low_pfn: int, dma_pfn: int) -> None:
        self.max_pfn = max_pfn
        self.max_low_pfn = max_low_pfn
        #: First frame outside ZONE_DMA (MAX_DMA_ADDRESS >> PAGE_SHIFT).
        self.dma_pfn = dma_pfn
        #: ``highstart_pfn``: first high frame (== max_pfn when there is no highmem).
        self.highstart_pfn = max_low_pfn
        self.flags = _lazy_array(max_pfn, "I")
        self.count = _lazy_array(max_pfn, "i")
        #: ``page->virtual`` of the frames that are not direct-mapped (high pages kmap()ed)
        self.virtual = _lazy_array(max_pfn, "I")
        #: The direct map: frames below ``direct_map_end`` have ``virtual = direct_map_base + phys``.
        self.direct_map_base = 0
        self.direct_map_end = 0

    def __len__(self) -> int:
        return self.max_pfn

    def __getitem__(self, pfn: int) -> Page:
        if not 0 <= pfn < self.max_pfn:
            raise HighmemError(
                f"page frame {pfn:#x} does not exist: this machine has frames 0 to {self.max_pfn - 1:#x}"
            )
        return Page(self, pfn)

    def zone_of(self, pfn: int) -> Zone:
        """The zone of frame ``pfn``."""
        if pfn < self.dma_pfn:
            return Zone.ZONE_DMA
        if pfn < self.max_low_pfn:
            return Zone.ZONE_NORMAL
        return Zone.ZONE_HIGHMEM

    def zone_span(self, zone: Zone) -> tuple[int, int]:
        """``(first_pfn, end_pfn)`` of ``zone``; empty zones have first == end."""
        if zone is Zone.ZONE_DMA:
            return 0, min(self.dma_pfn, self.max_low_pfn)
        if zone is Zone.ZONE_NORMAL:
            return min(self.dma_pfn, self.max_low_pfn), self.max_low_pfn
        return self.max_low_pfn, self.max_pfn

    def get_virtual(self, pfn: int) -> int:
        """``page->virtual`` of frame ``pfn`` (0 for a high page that is not kmap()ed)."""
        # Departure from Linux: free_area_init_core stores __va(phys) in every lowmem struct page
        # at boot; the direct map never changes, so the model derives it instead of writing
        # ~230,000 entries per boot.
        if pfn < self.direct_map_end:
            return self.direct_map_base + (pfn << PAGE_SHIFT)
        return int(self.virtual[pfn])

    def get_flags(self, pfn: int) -> int:
        """``page->flags`` of frame ``pfn``."""
        # Departure from Linux: one_highpage_init() stores PG_highmem in every
        # high frame at boot; touching 16 M frames would defeat sparseness, so
        # the bit is derived from pfn >= highstart_pfn, which is what it means.
        f = int(self.flags[pfn])
        if pfn >= self.highstart_pfn:
            f |= 1 << PG_highmem
        return f

    def set_flag(self, pfn: int, bit: int) -> None:
        """``SetPageXxx``."""
        self.flags[pfn] |= 1 << bit

    def clear_flag(self, pfn: int, bit: int) -> None:
        """``ClearPageXxx``."""
        self.flags[pfn] &= ~(1 << bit) & 0xFFFFFFFF


class PhysicalMemory:
    """The bytes of RAM, frame by frame; frames appear when first written.

    Any context.  Addresses are physical; accesses may not cross a frame
    boundary (callers split them, as the CPU does per page).
    """

    __slots__ = ("max_pfn", "frames")

    def __init__(self, max_pfn: int) -> None:
        self.max_pfn = max_pfn
        #: Materialised frames, by frame number.
        self.frames: dict[int, bytearray] = {}

    def frame(self, pfn: int) -> bytearray:
        """The writable bytes of frame ``pfn``, materialising it."""
        fr = self.frames.get(pfn)
        if fr is None:
            fr = self.frames[pfn] = bytearray(PAGE_SIZE)
        return fr

    def read(self, phys: int, size: int) -> bytes:
        """``size`` bytes at ``phys`` (within one frame)."""
        fr = self.frames.get(phys >> PAGE_SHIFT)
        off = phys & (PAGE_SIZE - 1)
        if fr is None:
            return _ZERO_FRAME[:size]
        return bytes(fr[off : off + size])

    def write(self, phys: int, data: bytes) -> None:
        """Store ``data`` at ``phys`` (within one frame)."""
        off = phys & (PAGE_SIZE - 1)
        self.frame(phys >> PAGE_SHIFT)[off : off + len(data)] = data

    @property
    def resident_frames(self) -> int:
        """How many frames have been materialised (written at least once)."""
        return len(self.frames)
