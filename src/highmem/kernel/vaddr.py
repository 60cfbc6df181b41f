"""Address types of the kernel model (distinct at type-check time, plain ints at run time)."""

from __future__ import annotations

from typing import NewType

__all__ = ["VirtAddr"]

#: A kernel virtual address (what ``kmap_atomic`` returns).
VirtAddr = NewType("VirtAddr", int)
