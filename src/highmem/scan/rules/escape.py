"""``escape`` (a note): a local mapping stored outside the function or returned.

A kmap_local_page() address is valid only in this task, on this CPU, until its kunmap_local();
storing it where other code can find it is legal only if that code follows the same rules.
"""

from __future__ import annotations

from typing import Any

from highmem.scan.rules.base import Context, Rule, describe
from highmem.scan.state import Mapping, Work

__all__ = ["Escape"]


class Escape(Rule):
    id = "escape"

    def on_store(self, ctx: Context, w: Work, m: Mapping, where: str, node: Any) -> None:
        if m.stacked or m.kind == "kmtype":
            what = f"'{where}' holds a {m.api}() mapping" if m.name == where else \
                f"{describe(m)} from {m.api}() is stored in '{where}'"
            ctx.report(self.id, node, f"{what}; a local mapping stays valid only in this task until its unmap",
                       [ctx.mapped_here(m)])

    def on_return(self, ctx: Context, w: Work, node: Any, returned: set[tuple[int, int]]) -> None:
        for m in w.maps:
            if m.mid in returned and m.live and (m.stacked or m.kind == "kmtype"):
                ctx.report(self.id, node, f"{describe(m)} from {m.api}() is returned to the caller, which must "
                                          f"unmap it in stack order", [ctx.mapped_here(m)])
