"""highmem: an executable model of Linux's atomic high-memory mappings on 32-bit x86.

Boot a simulated machine, map high pages with ``kmap_atomic`` exactly as a
chosen kernel generation did, and watch every PTE write, TLB flush, load and
store as events.
"""

from highmem.errors import HighmemError, KernelBUG, Oops, PageFault, SimulatorError
from highmem.hw.physmem import Page, Zone
from highmem.kernel.config import KernelConfig
from highmem.kernel.machine import Machine
from highmem.kernel.vaddr import VirtAddr
from highmem.profiles import boot, make_config

__all__ = [
    "HighmemError", "KernelBUG", "KernelConfig", "Machine", "Oops", "Page", "PageFault",
    "SimulatorError", "VirtAddr", "Zone", "boot", "make_config",
]
__version__ = "0.1.0"
