"""``sleep-in-atomic``: a call that may sleep inside an atomic mapping section.

kmap_atomic() disables page faults and preemption until kunmap_atomic(); sleeping there
schedules with a CPU's slot taken, and the next task on that CPU reuses it.  kmap_local_page()
sections may sleep, except where the code also holds a spinlock or has disabled preemption or
interrupts (the list of sleeping calls is in :mod:`highmem.scan.apis`).

User-copy calls (``copy_from_user`` and the like) are not reported inside a stack kmap_atomic()
section (2.6.37+): that kmap_atomic() calls pagefault_disable() (arch/x86/mm/highmem_32.c in
2.6.39; mm/highmem.c in 5.15), so a fault makes the copy fail fast instead of sleeping, which is
the kernel's own idiom (5.15 mm/userfaultfd.c copies under kmap_atomic() and retries on failure).
2.4's kmap_atomic() leaves page faults enabled, so there, with km_type sections, they are reported.
"""

from __future__ import annotations

from typing import Any

from highmem.scan.rules.base import Context, Rule, describe
from highmem.scan.state import Work

__all__ = ["SleepInAtomic"]

#: Calls that sleep only by taking a page fault, which a stack kmap_atomic() section disables.
_FAULTS_ONLY = frozenset({"copy_to_user", "copy_from_user", "get_user", "put_user", "clear_user",
                          "strncpy_from_user", "__copy_to_user", "__copy_from_user", "__get_user", "__put_user"})


def _gfp_may_sleep(node: Any) -> bool:
    args = node.child_by_field_name("arguments")
    text = args.text if args is not None else b""
    return (b"GFP_KERNEL" in text or b"GFP_NOFS" in text or b"GFP_NOIO" in text) and b"GFP_ATOMIC" not in text \
        and b"GFP_NOWAIT" not in text and b"?" not in text


class SleepInAtomic(Rule):
    id = "sleep-in-atomic"

    def on_call(self, ctx: Context, w: Work, name: str, node: Any) -> None:
        table = getattr(ctx, "table", None)
        sleeps = (table.may_sleep(name) if table is not None else False) or _gfp_may_sleep(node)
        if not sleeps:
            return
        atomic = [m for m in w.maps if m.live and m.kind in ("atomic", "kmtype") and not m.opaque]
        if atomic and not (name in _FAULTS_ONLY and atomic[-1].kind == "atomic"):
            m = atomic[-1]
            ctx.report(self.id, node, f"{name}() may sleep, but it is called inside the {m.api}() section of "
                                      f"{describe(m)} (line {m.line})", [ctx.mapped_here(m)])
            return
        if atomic:
            return
        local = [m for m in w.maps if m.live and m.kind == "local" and not m.opaque]
        if local and (w.locks > 0 or w.irq_off > 0):
            m = local[-1]
            held = "a spinlock is held" if w.locks else "interrupts are disabled"
            ctx.report(self.id, node, f"{name}() may sleep, but it is called inside the {m.api}() section of "
                                      f"{describe(m)} (line {m.line}) while {held}", [ctx.mapped_here(m)])
