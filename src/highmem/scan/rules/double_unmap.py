"""``double-unmap``: a mapping released a second time on some path.

A second kunmap_local() pops a slot that belongs to an enclosing mapping (or underflows the
stack); a second kunmap() drops a pkmap count the caller never took.
"""

from __future__ import annotations

from highmem.scan.rules.base import Context, Rule, UnmapEvent, describe
from highmem.scan.state import Work

__all__ = ["DoubleUnmap"]


class DoubleUnmap(Rule):
    id = "double-unmap"

    def on_unmap(self, ctx: Context, w: Work, ev: UnmapEvent) -> None:
        m = ev.target
        if m is None or m.live or m.opaque or m.replaced or ev.via not in ("addr", "page") or m.unmap_trips != w.trips:
            # (a second unmap only after the loop went round again depends on the loop's exit
            # condition, which the analysis does not evaluate: not reported)
            return
        ctx.report(self.id, ev.node,
                   f"{ev.api}({ev.arg}) releases {describe(m)} again; it was already unmapped at line {m.unmap_line}",
                   [ctx.mapped_here(m), (m.unmap_line, m.unmap_column, f"{describe(m)} first unmapped here")],
                   same=f"{ev.api}({ev.arg}) {m.line}:{m.column}")
