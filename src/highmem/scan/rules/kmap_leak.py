"""``kmap-leak``: a path from a map to a return without the unmap.

A leaked local or atomic mapping leaves its slot taken (and preemption or page faults disabled)
for the rest of the task; a leaked kmap() pins a pkmap entry until the pool runs dry and kmap()
sleeps forever.  To stay quiet on code that hands a mapping to a helper, a leak is reported only
on paths where the address was not given to a call that might keep it (memcpy() and the like do
not), and for kmap() and pte_offset_map() (whose pte_unmap() is a no-op without HIGHPTE, so much
arch code omits it) only when some other path of the same function releases that mapping.
"""

from __future__ import annotations

from typing import Any

from highmem.scan.rules.base import Context, Rule, describe, pos
from highmem.scan.state import Mapping, Work

__all__ = ["KmapLeak"]


class KmapLeak(Rule):
    id = "kmap-leak"

    def __init__(self) -> None:
        self.candidates: list[tuple[Mapping, tuple[int, int]]] = []

    def on_return(self, ctx: Context, w: Work, node: Any, returned: set[tuple[int, int]]) -> None:
        where = node if isinstance(node, tuple) else pos(node)
        for m in w.maps:
            if m.live and not m.escaped and not m.opaque and m.mid not in returned:
                self.candidates.append((m, where))

    def finish(self, ctx: Context) -> None:
        for m, where in self.candidates:
            if not m.passed and (m.mid[0] in ctx.unmapped_sites or (m.kind != "pkmap" and not m.lazy)):
                unmap = {"local": "kunmap_local", "atomic": "kunmap_atomic", "kmtype": "kunmap_atomic",
                         "pkmap": "kunmap"}[m.kind]
                ctx.report(self.id, where, f"{describe(m)} from {m.api}() at line {m.line} is not released on this "
                                           f"path; call {unmap}() before returning", [ctx.mapped_here(m)])
