"""Interrupt flags, bottom halves, scheduling and wait queues, as 2.4.22 has them.

Sources: include/asm-i386/system.h (``__cli``, ``__sti``, ``__save_flags``,
``__restore_flags``, ``local_irq_save``), include/asm-i386/hardirq.h and
softirq.h (``in_interrupt``, ``in_irq``, ``local_bh_disable``,
``local_bh_enable``), kernel/sched.c (``schedule``, ``sleep_on``,
``wake_up``), kernel/exit.c (``do_exit``).

These functions change the per-CPU state of the kernel model; whatever
needs *another context to run* (schedule, sleep, exit, raising an
interrupt) is handed to the engine installed as ``machine.engine``.  Without
an engine (plain library use) ``schedule`` returns at once, and sleeping or
raising an interrupt is refused with a one-sentence error.
"""

from __future__ import annotations

from collections.abc import Callable

from highmem.errors import HighmemError, KernelBUG
from highmem.events import Bug, IrqFlags
from highmem.kernel.context import Context, ContextKind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn, Protocol
else:
    from highmem._typing import Protocol

if TYPE_CHECKING:
    from highmem.kernel.machine import Machine

__all__ = [
    "Engine", "X86_EFLAGS_IF",
    "cli", "sti", "save_flags", "restore_flags", "local_irq_save", "local_irq_restore",
    "local_bh_disable", "local_bh_enable", "in_interrupt", "in_irq", "in_softirq",
    "schedule", "sleep_on", "wake_up", "do_exit", "raise_irq", "raise_softirq",
    "wait_for_completion", "complete",
]

#: The interrupt-enable bit of EFLAGS, as ``__save_flags`` returns it.
X86_EFLAGS_IF = 0x200


class Engine(Protocol):
    """What the kernel model asks of the engine that runs contexts (``highmem.sim``)."""

    #: the engine's version of its scheduling state, bumped (without a call) when a preempt count changes
    _ver: int
    #: how many contexts busy-wait in spin() now (a lock taken while one does bumps _ver)
    _spinning: int

    def schedule(self, ctx: Context) -> None: ...
    def sleep_on(self, ctx: Context, queue: str) -> None: ...
    def wake_up(self, ctx: Context, queue: str) -> int: ...
    def do_exit(self, ctx: Context) -> NoReturn: ...
    def raise_irq(self, ctx: Context, irq: str, cpu: int) -> None: ...
    def raise_softirq(self, ctx: Context, name: str, cpu: int) -> None: ...
    def bh_enabled(self, cpu: int) -> None: ...
    def try_completion(self, name: str) -> bool: ...
    def prepare_to_wait(self, ctx: Context, queue: str) -> None: ...
    def finish_wait(self, ctx: Context, queue: str) -> None: ...
    def waitqueue_active(self, queue: str) -> bool: ...
    def spin(self, ctx: Context, cond: Callable[[], bool], what: str) -> None: ...
    def send_ipi(self, ctx: Context, cpu: int, func: Callable[[Machine], None]) -> None: ...
    def state_changed(self) -> None: ...
    def complete(self, ctx: Context, name: str) -> None: ...


def _point(m: Machine, op: str) -> None:
    # The primitives below (and spinlock's, bounce's) test m.sched_point themselves: a frame less a step.
    if m.sched_point is not None:
        m.sched_point(op)


def set_irq_flag(m: Machine, enabled: bool, op: str | None) -> None:
    """Set this CPU's IF; the scheduler's options depend on it.  ``op`` names the primitive for
    the IrqFlags event (None: no event, as for the spin-lock forms).  The primitives below do the
    same inline (a frame less a step)."""
    st = m.cpu_state[m.current.cpu]
    st.irq_enabled = enabled
    m.epoch += 1
    if op is not None:
        bus = m.bus
        if bus.active and (bus.judges is None or IrqFlags in bus.judges):
            _flags_event(m, op, st.irq_enabled)


def _flags_event(m: Machine, op: str, enabled: bool) -> None:
    # Only when someone judges IrqFlags: the checker alone does not (EventBus.judges).
    cur = m.current
    m.bus.emit(IrqFlags(cur.cpu, cur.name, op, enabled))


def cli(m: Machine) -> None:
    """``__cli()``: disable interrupts on this CPU. Any context."""
    if m.sched_point is not None:
        m.sched_point("__cli")
    st = m.cpu_state[m.current.cpu]
    st.irq_enabled = False
    m.epoch += 1
    bus = m.bus
    if bus.active and (bus.judges is None or IrqFlags in bus.judges):
        _flags_event(m, "__cli", st.irq_enabled)


def sti(m: Machine) -> None:
    """``__sti()``: enable interrupts on this CPU. Any context."""
    if m.sched_point is not None:
        m.sched_point("__sti")
    st = m.cpu_state[m.current.cpu]
    st.irq_enabled = True
    m.epoch += 1
    bus = m.bus
    if bus.active and (bus.judges is None or IrqFlags in bus.judges):
        _flags_event(m, "__sti", st.irq_enabled)


def save_flags(m: Machine) -> int:
    """``__save_flags(x)``: EFLAGS of this CPU (only IF is modelled). Any context."""
    if m.sched_point is not None:
        m.sched_point("__save_flags")
    return X86_EFLAGS_IF if m.cpu_state[m.current.cpu].irq_enabled else 0


def restore_flags(m: Machine, flags: int) -> None:
    """``__restore_flags(x)``: set IF from ``flags``. Any context."""
    if m.sched_point is not None:
        m.sched_point("__restore_flags")
    st = m.cpu_state[m.current.cpu]
    st.irq_enabled = bool(flags & X86_EFLAGS_IF)
    m.epoch += 1
    bus = m.bus
    if bus.active and (bus.judges is None or IrqFlags in bus.judges):
        _flags_event(m, "__restore_flags", st.irq_enabled)


def local_irq_save(m: Machine) -> int:
    """``local_irq_save(x)``: save flags, then disable interrupts (one step). Any context."""
    if m.sched_point is not None:
        m.sched_point("local_irq_save")
    flags = X86_EFLAGS_IF if m.cpu_state[m.current.cpu].irq_enabled else 0
    st = m.cpu_state[m.current.cpu]
    st.irq_enabled = False
    m.epoch += 1
    bus = m.bus
    if bus.active and (bus.judges is None or IrqFlags in bus.judges):
        _flags_event(m, "local_irq_save", st.irq_enabled)
    return flags


def local_irq_restore(m: Machine, flags: int) -> None:
    """``local_irq_restore(x)``: as ``__restore_flags``. Any context."""
    if m.sched_point is not None:
        m.sched_point("local_irq_restore")
    st = m.cpu_state[m.current.cpu]
    st.irq_enabled = bool(flags & X86_EFLAGS_IF)
    m.epoch += 1
    bus = m.bus
    if bus.active and (bus.judges is None or IrqFlags in bus.judges):
        _flags_event(m, "local_irq_restore", st.irq_enabled)


def local_bh_disable(m: Machine) -> None:
    """``local_bh_disable()``: keep softirqs off this CPU (``local_bh_count++``). Any context."""
    if m.sched_point is not None:
        m.sched_point("local_bh_disable")
    m.cpu_state[m.current.cpu].local_bh_count += 1
    m.epoch += 1


def local_bh_enable(m: Machine) -> None:
    """``local_bh_enable()``: ``local_bh_count--``; pending softirqs may run now. Any context."""
    if m.sched_point is not None:
        m.sched_point("local_bh_enable")
    st = m.cpu_state[m.current.cpu]
    if st.local_bh_count <= 0:
        raise _bug(m, "local_bh_enable", f"local_bh_count of CPU {st.cpu} would go negative")
    st.local_bh_count -= 1
    m.epoch += 1
    if st.local_bh_count == 0 and m.engine is not None:
        m.engine.bh_enabled(st.cpu)


def in_interrupt(m: Machine) -> bool:
    """``in_interrupt()``: servicing a hard IRQ, running a softirq, or bottom halves disabled."""
    st = m.cpu_state[m.current.cpu]
    return (st.local_irq_count + st.local_bh_count) != 0


def interrupt_context_text(m: Machine) -> str:
    """Why ``in_interrupt()`` is true on this CPU, for a BUG message: a hard IRQ, a softirq, or only
    bottom halves disabled by the current context (2.4: in_interrupt() counts local_bh_count)."""
    st = m.cpu_state[m.current.cpu]
    if st.local_irq_count:
        return "in hard-IRQ context"
    if m.current.kind is ContextKind.SOFTIRQ:
        return "in softirq context"
    return (f"with bottom halves disabled (in_interrupt() is true because of the softirq count, local_bh_count "
            f"{st.local_bh_count})")


def in_irq(m: Machine) -> bool:
    """``in_irq()``: servicing a hard IRQ on this CPU."""
    return m.cpu_state[m.current.cpu].local_irq_count != 0


def in_softirq(m: Machine) -> bool:
    """``in_softirq()``: ``local_bh_count != 0`` (2.4 include/asm-i386/softirq.h)."""
    return m.cpu_state[m.current.cpu].local_bh_count != 0


def _bug(m: Machine, function: str, condition: str) -> KernelBUG:
    cur = m.current
    if m.bus.active:
        m.bus.emit(Bug(cur.cpu, cur.name, function, f"kernel BUG in {function}: {condition}"))
    return KernelBUG(function, condition, cpu=cur.cpu)


def _need_engine(m: Machine, what: str) -> None:
    if m.engine is None:
        raise HighmemError(f"{what} needs the scheduler: run the code as a scenario under highmem.sim")


def schedule(m: Machine) -> None:
    """``schedule()``: give up the CPU; another runnable task on it may run first.

    Process context only: 2.4 prints "Scheduling in interrupt" and BUGs otherwise.
    """
    if m.sched_point is not None:
        m.sched_point("schedule")
    cur = m.current
    st = m.cpu_state[cur.cpu]
    if st.local_irq_count + st.local_bh_count != 0:  # in_interrupt(m), inlined
        raise _bug(m, "schedule", f"Scheduling in interrupt on CPU {cur.cpu}")
    if m.engine is not None:
        m.engine.schedule(cur)


def sleep_on(m: Machine, queue: str) -> None:
    """``sleep_on(&queue)``: block until ``wake_up(&queue)``. Process context; may sleep."""
    if m.sched_point is not None:
        m.sched_point("sleep_on")
    _need_engine(m, "sleep_on")
    if in_interrupt(m):
        raise _bug(m, "schedule", f"Scheduling in interrupt on CPU {m.current.cpu}")
    m.engine.sleep_on(m.current, queue)  # type: ignore[union-attr]


def wake_up(m: Machine, queue: str) -> int:
    """``wake_up(&queue)``: make every sleeper on ``queue`` runnable; returns how many. Any context."""
    if m.sched_point is not None:
        m.sched_point("wake_up")
    if m.engine is None:
        return 0
    return m.engine.wake_up(m.current, queue)


def do_exit(m: Machine) -> NoReturn:
    """``do_exit()``: the task ends here. Process context."""
    if m.sched_point is not None:
        m.sched_point("do_exit")
    # kernel/exit.c (2.4.22): do_exit panics when in_interrupt(), which includes a task that
    # still has bottom halves disabled.
    if m.current.kind is not ContextKind.TASK or in_interrupt(m):
        raise _bug(m, "do_exit", "Aiee, killing interrupt handler!")
    _need_engine(m, "do_exit")
    m.engine.do_exit(m.current)  # type: ignore[union-attr]
    raise AssertionError("unreachable")  # pragma: no cover


def raise_irq(m: Machine, irq: str, cpu: int | None = None) -> None:
    """Make interrupt ``irq`` pending on ``cpu`` (default: this CPU), as an IPI or a device would.

    It is delivered as soon as that CPU runs with interrupts enabled. Any context.
    """
    if m.sched_point is not None:
        m.sched_point("raise_irq")
    _need_engine(m, "raise_irq")
    m.engine.raise_irq(m.current, irq, m.current.cpu if cpu is None else cpu)  # type: ignore[union-attr]


def raise_softirq(m: Machine, name: str, cpu: int | None = None) -> None:
    """``cpu_raise_softirq``: mark softirq ``name`` pending; it runs at the next irq_exit or
    local_bh_enable on that CPU, or when the CPU idles. Any context."""
    if m.sched_point is not None:
        m.sched_point("raise_softirq")
    _need_engine(m, "raise_softirq")
    m.engine.raise_softirq(m.current, name, m.current.cpu if cpu is None else cpu)  # type: ignore[union-attr]


def wait_for_completion(m: Machine, name: str) -> None:
    """``wait_for_completion(&name)``: sleep until ``complete(&name)`` has been called once
    more than there were waits (2.4 kernel/sched.c). Process context; may sleep."""
    if m.sched_point is not None:
        m.sched_point("wait_for_completion")
    _need_engine(m, "wait_for_completion")
    if in_interrupt(m):
        raise _bug(m, "schedule", f"Scheduling in interrupt on CPU {m.current.cpu}")
    eng = m.engine
    assert eng is not None
    while not eng.try_completion(name):
        eng.sleep_on(m.current, f"completion:{name}")


def complete(m: Machine, name: str) -> None:
    """``complete(&name)``: count one completion and wake a waiter. Any context."""
    if m.sched_point is not None:
        m.sched_point("complete")
    _need_engine(m, "complete")
    m.engine.complete(m.current, name)  # type: ignore[union-attr]
