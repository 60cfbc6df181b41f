"""Address types of the kernel model (distinct at type-check time, plain ints at run time)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NewType
else:
    from highmem._typing import NewType

__all__ = ["VirtAddr"]

#: A kernel virtual address (what ``kmap_atomic`` returns).
VirtAddr = NewType("VirtAddr", int)
