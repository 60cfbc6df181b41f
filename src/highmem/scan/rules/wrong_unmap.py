"""``wrong-unmap``: the unmap does not match the map.

* ``kunmap(page)`` on a local or atomic mapping: the pkmap count is dropped and the stack slot
  stays taken (kernel/module/decompress.c, 2023);
* ``kunmap_local()``/``kunmap_atomic()`` on a ``kmap()`` mapping: a stack slot is popped that this
  code never pushed;
* the page pointer where the mapped address is due, or a slot type other than the map's (2.4);
* a variable that holds no mapping on this path (NULL, or never assigned).
"""

from __future__ import annotations

from highmem.scan.rules.base import Context, Rule, UnmapEvent, describe
from highmem.scan.state import Work

__all__ = ["WrongUnmap"]

_UNMAP_OF = {"local": "kunmap_local", "atomic": "kunmap_atomic", "kmtype": "kunmap_atomic", "pkmap": "kunmap"}


class WrongUnmap(Rule):
    id = "wrong-unmap"

    def on_unmap(self, ctx: Context, w: Work, ev: UnmapEvent) -> None:
        m = ev.target
        call = f"{ev.api}({ev.arg})"
        if ev.via == "null":
            ctx.report(self.id, ev.node, f"{call}: '{ev.arg}' holds no mapping on this path")
            return
        if m is None or not m.live:
            return
        if ev.kind == "pkmap" and m.kind != "pkmap":
            ctx.report(self.id, ev.node, f"{call} releases a kmap() mapping, but {describe(m)} was mapped with "
                                         f"{m.api}() at line {m.line}; use {_UNMAP_OF[m.kind]}() on the address",
                       [ctx.mapped_here(m)])
        elif ev.kind == "pkmap" and ev.via == "addr":
            ctx.report(self.id, ev.node, f"{call} passes the mapped address; kunmap() takes the page that kmap() "
                                         f"mapped at line {m.line} ('{m.page}')", [ctx.mapped_here(m)])
        elif ev.kind != "pkmap" and m.kind == "pkmap":
            ctx.report(self.id, ev.node, f"{call} releases a stack mapping, but {describe(m)} was mapped with "
                                         f"kmap() at line {m.line}; use kunmap({m.page})", [ctx.mapped_here(m)])
        elif ev.kind != "pkmap" and ev.via == "page":
            ctx.report(self.id, ev.node, f"{call} passes the page pointer; {ev.api}() takes the address "
                                         f"{m.api}() returned for it at line {m.line}", [ctx.mapped_here(m)])
        elif ev.kind == "kmtype" and ev.slot and m.slot and ev.slot != m.slot:
            ctx.report(self.id, ev.node, f"{call} releases slot {ev.slot}, but {describe(m)} was mapped in "
                                         f"{m.slot} at line {m.line}", [ctx.mapped_here(m)])
