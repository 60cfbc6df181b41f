"""What the engine runs: tasks, interrupt sources and softirq sources with their code.

A body is a plain Python callable taking the :class:`~highmem.kernel.machine.Machine`
(the kernel API of the context it runs in); it may call any primitive,
each of which is a scheduling point.  TOML scenarios compile their
operation lists into such callables; Python scenarios provide them directly.
"""

from __future__ import annotations

from collections.abc import Callable

from highmem._record import field, record

TYPE_CHECKING = False

if TYPE_CHECKING:
    from highmem.kernel.machine import Machine
    from highmem.sim.checker import Checker

__all__ = ["TaskSpec", "IrqSpec", "SoftirqSpec", "Workload", "Body"]

Body = Callable[["Machine"], None]


@record
class TaskSpec:
    """A task (process context) pinned to ``cpu``; it starts runnable."""

    name: str
    cpu: int
    body: Body


@record
class IrqSpec:
    """A hard-IRQ line routed to ``cpu``.

    It may arrive spontaneously up to ``max`` times (the explorer chooses
    when, only while the CPU has interrupts enabled) and arrives once more
    each time code raises it.  Without ``sa_interrupt`` the handler runs with
    interrupts enabled, as 2.4's ``handle_IRQ_event`` does for slow handlers;
    with it, interrupts stay disabled.
    """

    name: str
    cpu: int
    body: Body
    max: int = 1
    sa_interrupt: bool = False
    #: A device's line: it may arrive (any number of times when ``max`` < 0)
    #: only while ``ready()`` says the device has work completed.
    ready: Callable[[], bool] | None = None


@record
class SoftirqSpec:
    """A softirq on ``cpu``: runs when raised (at irq_exit, local_bh_enable or idle),
    and up to ``max`` more times whenever the CPU could run softirqs."""

    name: str
    cpu: int
    body: Body
    max: int = 0


@record
class Workload:
    """One run's contexts; ``finish`` checks final state and may report findings."""

    tasks: list[TaskSpec]
    irqs: list[IrqSpec] = field(default_factory=list)
    softirqs: list[SoftirqSpec] = field(default_factory=list)
    finish: Callable[[Machine, Checker], None] | None = None
