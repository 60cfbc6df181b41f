"""Spin locks, as 2.4.22 has them on SMP (include/linux/spinlock.h, include/asm-i386/spinlock.h).

A lock is free or held by one context.  ``spin_lock`` of a held lock
busy-waits: the context keeps its CPU and makes no progress, but the CPU
still takes interrupts while they are enabled, exactly the property behind
the kmap_high / TLB-flush IPI deadlock (spec 5.4).  The ``_irq`` and
``_irqsave`` forms disable local interrupts first, as the kernel's do.

Departure from Linux: on a uniprocessor build 2.4 compiles spin_lock to
nothing; the model keeps SMP semantics on every build, so a lock taken
twice on one CPU is reported as the deadlock it would be on SMP.
"""

from __future__ import annotations

from highmem.errors import HighmemError
from highmem.kernel import sched as _sched

TYPE_CHECKING = False

if TYPE_CHECKING:
    from highmem.kernel.machine import Machine

__all__ = ["spin_lock", "spin_unlock", "spin_lock_irq", "spin_unlock_irq", "spin_lock_irqsave",
           "spin_unlock_irqrestore", "spin_is_locked"]


def _acquire(m: Machine, lock: str) -> None:
    owner = m.locks.get(lock)
    cur = m.current
    if owner is not None:
        eng = m.engine
        if eng is None:
            raise HighmemError(f"spin_lock({lock}) by {cur.name} would spin forever: {owner} holds it "
                               "and no other context can run outside the scheduler")
        eng.spin(cur, lambda: m.locks.get(lock) is None, f"spin_lock({lock}) held by {owner}")
        while m.locks.get(lock) is not None:  # pragma: no cover - the engine resumes only when free
            eng.spin(cur, lambda: m.locks.get(lock) is None, f"spin_lock({lock})")
    m.locks[lock] = cur.name
    eng = m.engine
    if eng is not None and eng._spinning:
        # A context spinning on this lock stops being runnable: options that offered it are stale.
        # (Spinners are rare; a context spinning on another lock makes this a needless recompute.)
        eng._ver += 1


def _release(m: Machine, lock: str) -> None:
    owner = m.locks.get(lock)
    if owner != m.current.name:
        raise _sched._bug(m, "spin_unlock", f"{lock} is unlocked by {m.current.name} but held by "
                          f"{owner or 'nobody'}")
    del m.locks[lock]
    eng = m.engine
    if eng is not None and eng._spinning:
        # A spinner may take the lock now.  While nobody spins no option reads a lock, so the
        # engine's options stand.
        eng.state_changed()


def spin_lock(m: Machine, lock: str) -> None:
    """``spin_lock(&lock)``: take ``lock``, busy-waiting while another context holds it. Any context."""
    if m.sched_point is not None:
        m.sched_point("spin_lock")
    _acquire(m, lock)


def spin_unlock(m: Machine, lock: str) -> None:
    """``spin_unlock(&lock)``. The holder only."""
    if m.sched_point is not None:
        m.sched_point("spin_unlock")
    _release(m, lock)


def spin_lock_irq(m: Machine, lock: str) -> None:
    """``spin_lock_irq``: disable local interrupts, then take ``lock``."""
    if m.sched_point is not None:
        m.sched_point("spin_lock_irq")
    cur = m.current
    # set_irq_flag(m, False, None), inlined.
    m.cpu_state[cur.cpu].irq_enabled = False
    m.epoch += 1
    # _acquire(m, lock), inlined for a free lock (a held one is _acquire's: it spins).
    locks = m.locks
    if locks.get(lock) is None:
        locks[lock] = cur.name
        eng = m.engine
        if eng is not None and eng._spinning:
            eng._ver += 1  # see _acquire
    else:
        _acquire(m, lock)


def spin_unlock_irq(m: Machine, lock: str) -> None:
    """``spin_unlock_irq``: release ``lock``, then enable local interrupts."""
    if m.sched_point is not None:
        m.sched_point("spin_unlock_irq")
    cur = m.current
    # _release(m, lock), inlined for the holder (anyone else is _release's: a BUG).
    locks = m.locks
    if locks.get(lock) != cur.name:
        _release(m, lock)
    del locks[lock]
    eng = m.engine
    if eng is not None and eng._spinning:
        eng.state_changed()  # see _release
    # set_irq_flag(m, True, None), inlined.
    m.cpu_state[cur.cpu].irq_enabled = True
    m.epoch += 1


def spin_lock_irqsave(m: Machine, lock: str) -> int:
    """``spin_lock_irqsave``: save flags, disable interrupts, take ``lock``; returns the flags."""
    if m.sched_point is not None:
        m.sched_point("spin_lock_irqsave")
    cur = m.current
    st = m.cpu_state[cur.cpu]
    flags = _sched.X86_EFLAGS_IF if st.irq_enabled else 0
    # set_irq_flag(m, False, None), inlined.
    st.irq_enabled = False
    m.epoch += 1
    # _acquire(m, lock), inlined for a free lock (a held one is _acquire's: it spins).
    locks = m.locks
    if locks.get(lock) is None:
        locks[lock] = cur.name
        eng = m.engine
        if eng is not None and eng._spinning:
            eng._ver += 1  # see _acquire
    else:
        _acquire(m, lock)
    return flags


def spin_unlock_irqrestore(m: Machine, lock: str, flags: int) -> None:
    """``spin_unlock_irqrestore``: release ``lock``, restore the saved interrupt flag."""
    if m.sched_point is not None:
        m.sched_point("spin_unlock_irqrestore")
    cur = m.current
    # _release(m, lock), inlined for the holder (anyone else is _release's: a BUG).
    locks = m.locks
    if locks.get(lock) != cur.name:
        _release(m, lock)
    del locks[lock]
    eng = m.engine
    if eng is not None and eng._spinning:
        eng.state_changed()  # see _release
    # set_irq_flag(m, bool(flags & X86_EFLAGS_IF), None), inlined.
    m.cpu_state[cur.cpu].irq_enabled = bool(flags & _sched.X86_EFLAGS_IF)
    m.epoch += 1


def spin_is_locked(m: Machine, lock: str) -> bool:
    """``spin_is_locked``."""
    return lock in m.locks
