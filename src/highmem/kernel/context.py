"""Execution contexts and the per-CPU state that says which one runs.

A :class:`Context` is one flow of kernel control: a task (process
context), a hard-IRQ handler or a softirq.  Each is bound to one CPU
(``smp_processor_id()`` is its ``cpu``).  Life cycle, as named states:

* ``new`` - created, not yet started;
* ``running`` - executing on its CPU (the top of that CPU's stack);
* ``runnable`` - a task that could run but whose CPU runs something else;
* ``interrupted`` - below a hard IRQ or softirq on its CPU's stack;
* ``sleeping`` - a task blocked on a wait queue (not on any CPU);
* ``exited`` - finished (returned, or ``do_exit``).

Interrupt contexts nest on top of whatever runs on their CPU and never
sleep.  Per-CPU counters follow 2.4's ``irq_stat``: ``local_irq_count``
(hard IRQs being serviced) and ``local_bh_count`` (softirqs running or
``local_bh_disable`` nesting); ``in_interrupt()`` is true when either is
non-zero, ``in_irq()`` when the first is.
"""

from __future__ import annotations

from enum import StrEnum

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Context", "ContextKind", "CpuState"]


class ContextKind(StrEnum):
    """What kind of kernel control flow a context is."""

    TASK = "task"
    HARDIRQ = "hardirq"
    SOFTIRQ = "softirq"


class Context:
    """One flow of kernel control on one CPU; see the module docstring for its states."""

    __slots__ = ("name", "kind", "cpu", "state", "data")

    def __init__(self, name: str, kind: ContextKind, cpu: int) -> None:
        self.name = name
        self.kind = kind
        self.cpu = cpu
        self.state = "new"
        #: Room for the engine (scheduler bookkeeping) without subclassing.
        self.data: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<{self.kind.value} {self.name} on CPU {self.cpu}: {self.state}>"


class CpuState:
    """The kernel's per-CPU state: the context stack, interrupt flag and counters.

    ``stack[0]`` is the task the CPU runs (or None when idle); interrupt
    contexts are pushed above it.  ``irq_enabled`` is EFLAGS.IF.
    """

    __slots__ = ("cpu", "stack", "irq_enabled", "local_irq_count", "local_bh_count")

    def __init__(self, cpu: int) -> None:
        self.cpu = cpu
        self.stack: list[Context] = []
        self.irq_enabled = True
        self.local_irq_count = 0
        self.local_bh_count = 0

    @property
    def top(self) -> Context | None:
        """What runs on the CPU now."""
        return self.stack[-1] if self.stack else None
