"""The simulated hardware: physical memory, page tables, CPUs with TLBs.

Kernel-agnostic: nothing here knows about kmap, fixmaps or km types.
"""

from highmem.hw.cpu import CPU
from highmem.hw.pagetable import NON_PAE, PAE, Geometry
from highmem.hw.physmem import PAGE_SHIFT, PAGE_SIZE, MemMap, Page, PhysicalMemory, Zone

__all__ = ["CPU", "Geometry", "MemMap", "NON_PAE", "PAE", "PAGE_SHIFT", "PAGE_SIZE", "Page",
           "PhysicalMemory", "Zone"]
