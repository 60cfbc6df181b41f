"""``use-after-unmap``: the mapped address, or a pointer derived from it, used after its unmap.

After kunmap_local() the slot's PTE is cleared (or reused by the next mapping on this CPU), so a
read through the old address faults or reads another page.
"""

from __future__ import annotations

from typing import Any

from highmem.scan.rules.base import Context, Rule, describe
from highmem.scan.state import Mapping, Work

__all__ = ["UseAfterUnmap"]


class UseAfterUnmap(Rule):
    id = "use-after-unmap"

    def on_use(self, ctx: Context, w: Work, m: Mapping, node: Any, how: str) -> None:
        if m.live or m.opaque or m.replaced or m.unmap_trips != w.trips or m.exited:
            # Loop-carried (unmapped in an earlier pass, or in the pass before the loop's test
            # ended it): whether the use happens depends on the exit test.
            return
        text = " ".join(node.text.decode("utf-8", "replace").split())
        if len(text) > 40:
            text = text[:37] + "..."
        ctx.report(self.id, node,
                   f"'{text}' {how} {describe(m)} after it was unmapped at line {m.unmap_line}",
                   [ctx.mapped_here(m), (m.unmap_line, m.unmap_column, f"{describe(m)} unmapped here")],
                   same=f"{text} {how} {m.line}:{m.column}")
