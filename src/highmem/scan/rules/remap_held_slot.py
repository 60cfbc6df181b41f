"""``remap-held-slot`` (2.4-2.6.36 km_type code): a slot mapped again while its mapping is in use.

Each ``km_type`` is one fixmap PTE per CPU.  ``kmap_atomic(page2, KM_IRQ0)`` while this path still
uses the address ``kmap_atomic(page1, KM_IRQ0)`` returned rewrites that PTE: both addresses are the
same virtual page, and the first one now reaches ``page2`` (2.4.22 ``kmap_atomic()`` writes
``kmap_pte - idx`` unconditionally; only DEBUG_HIGHMEM's ``pte_none`` check, a BUG, notices).
Reported where the old address is used after the remap, the moment the wrong page is read or
written; the model's finding of the same name reports the remap itself.
"""

from __future__ import annotations

from typing import Any

from highmem.scan.rules.base import Context, Rule, describe
from highmem.scan.state import Mapping, Work

__all__ = ["RemapHeldSlot"]


class RemapHeldSlot(Rule):
    id = "remap-held-slot"

    def on_use(self, ctx: Context, w: Work, m: Mapping, node: Any, how: str) -> None:
        if not m.replaced or m.opaque or m.unmap_trips != w.trips:
            return
        text = " ".join(node.text.decode("utf-8", "replace").split())
        if len(text) > 40:
            text = text[:37] + "..."
        ctx.report(self.id, node,
                   f"'{text}' {how} {describe(m)} in {m.slot}, but kmap_atomic() at line {m.unmap_line} mapped "
                   f"another page in {m.slot} since; the access reaches that page",
                   [ctx.mapped_here(m), (m.unmap_line, m.unmap_column, f"{m.slot} mapped again here")],
                   same=f"{text} {how} {m.line}:{m.column}")
