"""A page allocator over the zones: ``alloc_page(gfp_mask)`` and ``__free_page``.

Departure from Linux: not the buddy allocator.  Each zone hands out frames
from a cursor and a LIFO list of freed frames; only order-0 pages exist.
What the highmem code relies on is kept: the zone fallback order of each
GFP mask (HIGHMEM -> NORMAL -> DMA for GFP_HIGHUSER; NORMAL -> DMA for
GFP_KERNEL / GFP_NOHIGHIO / GFP_ATOMIC; DMA only for GFP_DMA), ``page->count``
set to 1 on allocation and the page freed when it drops to 0, and failure
(``None``) when no zone in the list has a free frame.
"""

from __future__ import annotations

from highmem.errors import HighmemError
from highmem.hw.physmem import MemMap, Page, Zone

__all__ = ["PageAllocator", "GFP_ZONELISTS"]

GFP_ZONELISTS: dict[str, tuple[Zone, ...]] = {
    "GFP_HIGHUSER": (Zone.ZONE_HIGHMEM, Zone.ZONE_NORMAL, Zone.ZONE_DMA),
    "GFP_KERNEL": (Zone.ZONE_NORMAL, Zone.ZONE_DMA),
    "GFP_NOHIGHIO": (Zone.ZONE_NORMAL, Zone.ZONE_DMA),
    "GFP_NOIO": (Zone.ZONE_NORMAL, Zone.ZONE_DMA),
    "GFP_ATOMIC": (Zone.ZONE_NORMAL, Zone.ZONE_DMA),
    "GFP_DMA": (Zone.ZONE_DMA,),
}


class PageAllocator:
    """Per-zone free frames.  Any context (the model has no reclaim, so it never sleeps)."""

    def __init__(self, mem_map: MemMap, first_free_pfn: int) -> None:
        self.mem_map = mem_map
        self.cursor: dict[Zone, int] = {}
        self.end: dict[Zone, int] = {}
        self.freed: dict[Zone, list[int]] = {z: [] for z in Zone}
        #: frames taken at a chosen place (alloc_pfn) that the cursors must skip
        self.taken: set[int] = set()
        self.first_free_pfn = first_free_pfn
        for z in Zone:
            start, end = mem_map.zone_span(z)
            self.cursor[z] = max(start, first_free_pfn) if z is not Zone.ZONE_HIGHMEM else start
            self.end[z] = end

    def free_pages(self, zone: Zone) -> int:
        """How many frames of ``zone`` can still be allocated."""
        return max(0, self.end[zone] - self.cursor[zone]) + len(self.freed[zone])

    def alloc_page(self, gfp_mask: str = "GFP_KERNEL") -> Page | None:
        """One page from the first zone of ``gfp_mask``'s list that has a free frame, or None."""
        try:
            zones = GFP_ZONELISTS[gfp_mask]
        except KeyError:
            raise HighmemError(
                f"GFP mask {gfp_mask!r} is not modelled: use one of {', '.join(GFP_ZONELISTS)}"
            ) from None
        for z in zones:
            if self.freed[z]:
                pfn = self.freed[z].pop()
            elif self.cursor[z] < self.end[z]:
                while self.cursor[z] in self.taken and self.cursor[z] < self.end[z]:
                    self.cursor[z] += 1
                if self.cursor[z] >= self.end[z]:
                    continue
                pfn = self.cursor[z]
                self.cursor[z] += 1
            else:
                continue
            self.mem_map.count[pfn] = 1
            return Page(self.mem_map, pfn)
        return None

    def alloc_pfn(self, pfn: int) -> Page:
        """The free frame ``pfn`` itself (a scenario's ``[pages] pfn``): one sentence when it is outside
        memory, reserved at boot or already allocated."""
        mm = self.mem_map
        if not 0 <= pfn < mm.max_pfn:
            raise HighmemError(f"page frame {pfn:#x} is outside memory: this machine has frames 0 to "
                               f"{mm.max_pfn - 1:#x}")
        z = mm.zone_of(pfn)
        if z is not Zone.ZONE_HIGHMEM and pfn < self.first_free_pfn:
            raise HighmemError(f"page frame {pfn:#x} is reserved at boot (the kernel image and boot page tables "
                               f"use frames below {self.first_free_pfn:#x})")
        if mm.count[pfn] or pfn in self.taken or pfn < self.cursor[z] and pfn not in self.freed[z]:
            raise HighmemError(f"page frame {pfn:#x} is already allocated")
        if pfn in self.freed[z]:
            self.freed[z].remove(pfn)
        self.taken.add(pfn)
        mm.count[pfn] = 1
        return Page(mm, pfn)

    def get_page(self, page: Page) -> None:
        """``get_page``: take another reference."""
        self.mem_map.count[page.pfn] += 1

    def free_page(self, page: Page) -> None:
        """``__free_page``: drop a reference; the frame is free again at count 0."""
        c = self.mem_map.count[page.pfn]
        if c <= 0:
            raise HighmemError(f"page {page.pfn:#x} is freed with count {c}: it was not allocated")
        self.mem_map.count[page.pfn] = c - 1
        if c == 1:
            self.freed[page.zone].append(page.pfn)
