"""What the kernel model asks of the engine: sleeping, waking, exiting, interrupts, spinning.

:class:`KernelHooks` is the part of :class:`~highmem.sim.engine.Simulator` that implements the
:class:`highmem.kernel.sched.Engine` protocol: the kernel primitives that need *another
context to run* (``schedule``, wait queues and completions, ``do_exit``, raising an
interrupt or softirq, an IPI, a busy-wait) call these methods from the running context's
greenlet; each changes the engine's state and, when the caller must give up its CPU,
switches to the engine's main loop.
"""

from __future__ import annotations

from collections.abc import Callable

from highmem.errors import HighmemError, SimulatorError
from highmem.kernel.context import Context

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

    from highmem.kernel.machine import Machine
    from highmem.sim.engine import Option

__all__ = ["KernelHooks", "IPI_NAME"]

#: The interrupt smp_call_function sends (arch/i386/kernel/smp.c, 2.4.22).
IPI_NAME = "CALL_FUNCTION_VECTOR"


class _TaskExit(BaseException):
    """Unwinds a task's greenlet on do_exit()."""


class KernelHooks:
    """Engine hooks called by the kernel model (highmem.kernel.sched and friends)."""

    # State owned by Simulator, used here.
    m: Machine
    step: int
    _ver: int
    _spinning: int
    runq: list[list[Context]]
    waitq: dict[str, list[Context]]
    completions: dict[str, int]
    pending_irq: list[list[str]]
    pending_softirq: list[list[str]]
    ipi_funcs: list[list[Callable[[Machine], None]]]
    irqs: dict[tuple[str, int], Any]
    softirqs: dict[tuple[str, int], Any]

    def _switch_main(self, nxt: Option | None) -> None:  # pragma: no cover - Simulator defines it
        raise NotImplementedError

    def _emit(self, ctx: Context, what: str, detail: str = "") -> None:  # pragma: no cover
        raise NotImplementedError

    def schedule(self, ctx: Context) -> None:
        """``schedule()``: a task that prepared to wait and was not woken since sleeps;
        otherwise it stays runnable and another task of its CPU may run first."""
        if ctx.data.get("queue") is not None:
            self._off_cpu(ctx, "sleeping", "sleep")
            ctx.data["slept_at"] = self.step
        else:
            self._off_cpu(ctx, "runnable", "schedule")
            self.runq[ctx.cpu].append(ctx)
        self._switch_main(None)

    def prepare_to_wait(self, ctx: Context, queue: str) -> None:
        """``add_wait_queue`` + ``set_current_state(TASK_UNINTERRUPTIBLE)``: the next schedule()
        sleeps unless a wake_up on ``queue`` comes first (no lost wake-up)."""
        # No option reads a wait queue: neither _ver nor the machine's epoch moves.
        ctx.data["queue"] = queue
        self.waitq.setdefault(queue, []).append(ctx)

    def finish_wait(self, ctx: Context, queue: str) -> None:
        """``remove_wait_queue`` + TASK_RUNNING: stop waiting on ``queue`` without sleeping."""
        ctx.data.pop("queue", None)  # (no option reads a wait queue, as in prepare_to_wait)
        q = self.waitq.get(queue)
        if q and ctx in q:
            q.remove(ctx)
            if not q:
                del self.waitq[queue]

    def sleep_on(self, ctx: Context, queue: str) -> None:
        self.prepare_to_wait(ctx, queue)
        self.schedule(ctx)

    def _wake(self, t: Context, queue: str) -> None:
        t.data.pop("queue", None)
        if t.state == "sleeping":
            t.state = "runnable"
            self.runq[t.cpu].append(t)
        self._emit(t, "wake", queue)

    def wake_up(self, ctx: Context, queue: str) -> int:
        sleepers = self.waitq.pop(queue, [])
        if sleepers:
            # (A wake-up of nobody changes no option: see prepare_to_wait.)
            self._ver += 1
        for t in sleepers:
            self._wake(t, queue)
        return len(sleepers)

    def waitqueue_active(self, queue: str) -> bool:
        """``waitqueue_active``: someone waits on ``queue``."""
        return bool(self.waitq.get(queue))

    def do_exit(self, ctx: Context) -> NoReturn:
        raise _TaskExit()

    def raise_irq(self, ctx: Context, irq: str, cpu: int) -> None:
        self._ver += 1
        src = self.irqs.get((irq, cpu))
        if src is None:
            cpus = [c for (n, c) in self.irqs if n == irq]
            if not cpus:
                raise HighmemError(f"interrupt {irq!r} is not declared by this scenario: declare it as an [[irq]]")
            raise HighmemError(f"interrupt {irq!r} is routed to CPU {cpus[0]}, not CPU {cpu}")
        self.pending_irq[cpu].append(irq)

    def send_ipi(self, ctx: Context, cpu: int, func: Callable[[Machine], None]) -> None:
        """Queue ``func`` for CPU ``cpu``'s CALL_FUNCTION_VECTOR IPI and make the IPI pending."""
        self._ver += 1
        self.ipi_funcs[cpu].append(func)
        self.pending_irq[cpu].append(IPI_NAME)

    def _ipi_handler(self, m: Machine) -> None:
        func = self.ipi_funcs[m.current.cpu].pop(0)
        func(m)

    def spin(self, ctx: Context, cond: Callable[[], bool], what: str) -> None:
        """Busy-wait: ``ctx`` keeps its CPU (interrupts still arrive when enabled) but does not
        run again until ``cond()`` holds."""
        ctx.data["spin"] = (cond, what)
        ctx.data.setdefault("spin_since", self.step)
        # The spinner stops being runnable until cond() holds: the options change.
        self._ver += 1
        self._spinning += 1
        self._switch_main(None)
        self._spinning -= 1
        if cond():
            del ctx.data["spin"]
            ctx.data.pop("spin_since", None)

    def state_changed(self) -> None:
        """Something the options depend on changed outside the engine (a lock, a device queue)."""
        self._ver += 1

    def raise_softirq(self, ctx: Context, name: str, cpu: int) -> None:
        self._ver += 1
        src = self.softirqs.get((name, cpu))
        if src is None:
            cpus = [c for (n, c) in self.softirqs if n == name]
            if not cpus:
                raise HighmemError(f"softirq {name!r} is not declared by this scenario: declare it as a [[softirq]]")
            raise HighmemError(f"softirq {name!r} runs on CPU {cpus[0]}, not CPU {cpu}")
        if name not in self.pending_softirq[cpu]:
            self.pending_softirq[cpu].append(name)

    def try_completion(self, name: str) -> bool:
        n = self.completions.get(name, 0)
        if n > 0:
            self.completions[name] = n - 1
            return True
        return False

    def complete(self, ctx: Context, name: str) -> None:
        self._ver += 1
        self.completions[name] = self.completions.get(name, 0) + 1
        queue = f"completion:{name}"
        q = self.waitq.get(queue)
        if q:
            t = q.pop(0)
            if not q:
                del self.waitq[queue]
            self._wake(t, queue)

    def bh_enabled(self, cpu: int) -> None:
        st = self.m.cpu_state[cpu]
        # do_softirq runs pending softirqs whatever the interrupt flag (it enables them itself).
        if self.pending_softirq[cpu] and st.local_irq_count == 0:
            name = self.pending_softirq[cpu][0]
            from highmem.sim.engine import Option

            self._switch_main(Option("softirq", cpu, name, name))

    def _off_cpu(self, ctx: Context, state: str, why: str) -> None:
        self._ver += 1
        st = self.m.cpu_state[ctx.cpu]
        if not st.stack or st.stack[-1] is not ctx:
            raise SimulatorError(f"{ctx.name} leaves CPU {ctx.cpu} but is not on top of it")
        st.stack.pop()
        ctx.state = state
        self._emit(ctx, "switch_out", why)
        if self.m.sched_out_hook is not None:
            self.m.sched_out_hook(self.m, ctx)
        if not st.stack:
            # The CPU idles, and the idle loop runs with interrupts enabled.
            st.irq_enabled = True
            self.m.epoch += 1

