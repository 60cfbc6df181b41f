"""``unmap-order``: a stack mapping released while a later one is still live.

kmap_local_page() and (2.6.37+) kmap_atomic() push a per-CPU slot; kunmap_local() pops the top
one whatever address it is given (mm/highmem.c kunmap_local_indexed()).  Releasing an earlier
mapping first clears the later mapping's slot and leaves the earlier one mapped.
"""

from __future__ import annotations

from highmem.scan.rules.base import Context, Rule, UnmapEvent, describe
from highmem.scan.state import Work

__all__ = ["UnmapOrder"]


class UnmapOrder(Rule):
    id = "unmap-order"

    def on_unmap(self, ctx: Context, w: Work, ev: UnmapEvent) -> None:
        m = ev.target
        if m is None or not m.live or not m.stacked or ev.kind == "pkmap" or not ev.later or m.opaque:
            return
        if ev.via not in ("addr", "page") or any(x.opaque for x in ev.later):
            return
        later = ev.later[-1]
        ctx.report(self.id, ev.node,
                   f"{ev.api}({ev.arg}) releases {describe(m)} (mapped at line {m.line}) while the later mapping "
                   f"{describe(later)} (line {later.line}) is still live; local mappings must be released in "
                   f"reverse order",
                   [ctx.mapped_here(m), ctx.mapped_here(later, f"the later mapping {describe(later)}")])
