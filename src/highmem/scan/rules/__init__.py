"""The rules: one module each, one class each, fed events by :mod:`highmem.scan.analysis`.

A rule sees the analysis only through :class:`Rule`'s hooks and reports through
:meth:`Context.report`; it never walks the tree itself.  Order of :data:`ALL_RULES` is the
order of the table in docs/scan.md.
"""

from __future__ import annotations

from highmem.scan.rules.base import Context, Rule, UnmapEvent, describe
from highmem.scan.rules.double_unmap import DoubleUnmap
from highmem.scan.rules.escape import Escape
from highmem.scan.rules.kmap_leak import KmapLeak
from highmem.scan.rules.remap_held_slot import RemapHeldSlot
from highmem.scan.rules.sleep_in_atomic import SleepInAtomic
from highmem.scan.rules.unmap_order import UnmapOrder
from highmem.scan.rules.use_after_unmap import UseAfterUnmap
from highmem.scan.rules.wrong_context import WrongContext
from highmem.scan.rules.wrong_unmap import WrongUnmap

__all__ = ["Context", "Rule", "UnmapEvent", "describe", "ALL_RULES", "make_rules"]

ALL_RULES: tuple[type[Rule], ...] = (UnmapOrder, KmapLeak, WrongUnmap, DoubleUnmap, UseAfterUnmap, SleepInAtomic,
                                     WrongContext, RemapHeldSlot, Escape)


def make_rules() -> list[Rule]:
    """A fresh instance of every rule, for one function."""
    return [r() for r in ALL_RULES]
