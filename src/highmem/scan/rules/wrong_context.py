"""``wrong-context`` (2.4-2.6.36 km_type code): a slot used in a context it is not reserved for.

Each km_type slot belongs to one context per CPU.  ``KM_IRQ*``, ``KM_BH_IRQ`` and
``KM_BOUNCE_READ`` are also taken by interrupt handlers, so process code must disable interrupts
around them or an interrupt overwrites the mapping; ``KM_USER*`` belong to process context, so an
interrupt handler that takes them overwrites the mapping of the task it interrupted.
"""

from __future__ import annotations

import re
from typing import Any

from highmem.scan.rules.base import Context, Rule, describe
from highmem.scan.state import Mapping, Work

__all__ = ["WrongContext"]

_IRQ_SLOTS = re.compile(r"^(KM_IRQ\d*|KM_BH_IRQ|KM_BOUNCE_READ)$")


class WrongContext(Rule):
    id = "wrong-context"

    def on_map(self, ctx: Context, w: Work, m: Mapping, node: Any) -> None:
        if m.kind != "kmtype" or not m.slot:
            return
        if m.page is not None and (f"PageHighMem({m.page})", False) in w.facts:
            # kmap_atomic() of a lowmem page returns page_address() and takes no slot (2.4.22
            # include/asm-i386/highmem.h, 2.6.32 arch/x86/mm/highmem_32.c): code that disables
            # interrupts only `if (PageHighMem(pg))` is right on the other side.
            return
        if _IRQ_SLOTS.match(m.slot) and w.irq_off == 0 and ctx.irq_handler_line is None:
            ctx.report("wrong-context", node, f"{m.api}() maps {describe(m)} in {m.slot} on a path where interrupts "
                                              f"are enabled; an interrupt that takes {m.slot} overwrites it")
        elif m.slot.startswith("KM_USER") and ctx.irq_handler_line is not None:
            ctx.report("wrong-context", node, f"{m.api}() maps {describe(m)} in {m.slot} in interrupt handler "
                                              f"{ctx.function}() (registered at line {ctx.irq_handler_line}); "
                                              f"interrupt code must use a KM_IRQ slot",
                       [(ctx.irq_handler_line, 1, f"{ctx.function}() registered as an interrupt handler here")])
