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


#: Calls that show a function manages the interrupt flag itself (so a path's "interrupts on" is
#: what the code does, not an unknown inherited from the caller).
_IRQ_CALLS = re.compile(r"^(?:local_irq_(?:save|restore|disable|enable)|(?:raw_)?(?:spin|read|write)_(?:un)?lock_irq"
                        r"(?:save|restore)?|_*(?:cli|sti)|_*save_and_cli|_*save_flags|_*restore_flags)$")


class WrongContext(Rule):
    """An interrupt slot with interrupts on is reported only where the function shows its own
    interrupt state: it toggles the flag somewhere, or it calls something that may sleep (so it
    runs with interrupts on).  Otherwise the state is its caller's (a SCSI ``queuecommand`` runs
    under ``host_lock`` with interrupts off in 2.6), which an intra-procedural analysis cannot
    see; 2.6's own ``debug_kmap_atomic()`` checks that case at run time."""

    id = "wrong-context"

    def __init__(self) -> None:
        self.candidates: list[tuple[Any, str]] = []

    def finish(self, ctx: Context) -> None:
        table = ctx.table
        if any(_IRQ_CALLS.match(n) or (table is not None and table.may_sleep(n)) for n in ctx.callees):
            for node, message in self.candidates:
                ctx.report("wrong-context", node, message)

    def on_map(self, ctx: Context, w: Work, m: Mapping, node: Any) -> None:
        if m.kind != "kmtype" or not m.slot:
            return
        if m.page is not None and (f"PageHighMem({m.page})", False) in w.facts:
            # kmap_atomic() of a lowmem page returns page_address() and takes no slot (2.4.22
            # include/asm-i386/highmem.h, 2.6.32 arch/x86/mm/highmem_32.c): code that disables
            # interrupts only `if (PageHighMem(pg))` is right on the other side.
            return
        if _IRQ_SLOTS.match(m.slot) and w.irq_off == 0 and ctx.irq_handler_line is None:
            self.candidates.append((node, f"{m.api}() maps {describe(m)} in {m.slot} on a path where interrupts "
                                          f"are enabled; an interrupt that takes {m.slot} overwrites it"))
        elif m.slot.startswith("KM_USER") and ctx.irq_handler_line is not None:
            ctx.report("wrong-context", node, f"{m.api}() maps {describe(m)} in {m.slot} in interrupt handler "
                                              f"{ctx.function}() (registered at line {ctx.irq_handler_line}); "
                                              f"interrupt code must use a KM_IRQ slot",
                       [(ctx.irq_handler_line, 1, f"{ctx.function}() registered as an interrupt handler here")])
