"""Cross-CPU calls and global TLB flushes (2.4.22 arch/i386/kernel/smp.c).

``smp_call_function(func, wait=1)`` takes ``call_lock``, sends the
CALL_FUNCTION_VECTOR IPI to every other online CPU and busy-waits until
each has run ``func``.  An IPI is an interrupt: a CPU running with
interrupts disabled does not take it, so a caller waiting for such a CPU
spins until it enables them (or forever: spec 5.4).  2.4 documents that it
must not be called with interrupts disabled or from interrupt context,
but does not check.

``flush_tlb_all()`` is ``smp_call_function(flush_tlb_all_ipi)`` then the
local ``__flush_tlb_all()``; on UP it is the local flush alone.
"""

from __future__ import annotations

from collections.abc import Callable

from highmem.kernel import sched as _sched
from highmem.kernel.spinlock import spin_lock, spin_unlock

TYPE_CHECKING = False

if TYPE_CHECKING:
    from highmem.kernel.machine import Machine

__all__ = ["smp_call_function", "flush_tlb_all", "local_flush_tlb_all"]


def local_flush_tlb_all(m: Machine) -> None:
    """``__flush_tlb_all()`` on this CPU: every entry, global ones included."""
    m.cpus[m.current.cpu].flush_tlb_all()


def smp_call_function(m: Machine, func: Callable[[Machine], None], wait: bool = True) -> None:
    """Run ``func`` on every other online CPU from its IPI handler; wait for all when ``wait``.

    Process context with interrupts enabled (not checked, as in 2.4).
    """
    others = [c for c in range(len(m.cpus)) if c != m.current.cpu]
    if not others:
        return
    eng = m.engine
    if eng is None:
        # Without the engine nothing interleaves: run each CPU's handler in turn.
        cur = m.current
        for c in others:
            with m.process(c, f"IPI@{c}"):
                func(m)
        m.current = cur
        m.cpus[cur.cpu].context = cur.name
        return
    spin_lock(m, "call_lock")
    done = [0]

    def handler(k: Machine) -> None:
        func(k)
        done[0] += 1
        if k.engine is not None:
            k.engine.state_changed()

    for c in others:
        eng.send_ipi(m.current, c, handler)
    if wait:
        want = len(others)
        while done[0] < want:
            eng.spin(m.current, lambda: done[0] >= want, "smp_call_function waiting for CALL_FUNCTION_VECTOR")
    spin_unlock(m, "call_lock")


def _flush_tlb_all_ipi(m: Machine) -> None:
    m.cpus[m.current.cpu].flush_tlb_all()


def flush_tlb_all(m: Machine) -> None:
    """``flush_tlb_all()``: every online CPU's TLB, global entries included (IPIs on SMP)."""
    _sched._point(m, "flush_tlb_all")
    m.tlb_flush_all_count += 1
    if len(m.cpus) > 1:
        smp_call_function(m, _flush_tlb_all_ipi)
    local_flush_tlb_all(m)
