"""Contexts on CPUs: their greenlets, and what the engine does when one starts, runs or ends.

A context (task, hardirq or softirq handler) runs in a greenlet, so scenario code is plain Python.
The main loop applies each choice (:meth:`ContextLifecycle._apply`): it enters an interrupt or a
softirq (a new context pushed on its CPU's stack, with the flags a handler starts with), or puts a
task on its CPU, then resumes the context on top until its next scheduling point.  A context is
*new*, then *running*, *interrupted* (a handler above it), *runnable* or *sleeping* (off its CPU),
and finally *exited*; :meth:`ContextLifecycle._context_done` pops it and restores what its entry
changed.  A greenlet is pooled and reused once its body returns (Python scenarios keep one per
context: their line guard is per greenlet).
"""

from __future__ import annotations

import sys
from _thread import get_ident

from greenlet import GreenletExit, greenlet

from highmem.errors import HighmemError, KernelBUG, Oops, PageFault, SimulatorError
from highmem.events import ContextEvent
from highmem.kernel.context import Context, ContextKind
from highmem.sim.checker import CONTEXT_EVENTS_JUDGED, Checker
from highmem.sim.findings import Finding
from highmem.sim.hooks import _TaskExit
from highmem.sim.options import Option, SchedulingPoints, StepBudgetExceeded
from highmem.sim.workload import Body, IrqSpec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from highmem.kernel.machine import Machine

__all__ = ["ContextLifecycle"]

_HIGHMEM_DIR = __file__.rsplit("/", 2)[0]
_new = tuple.__new__
_new_context = object.__new__
#: ``kind.value`` of every context kind (an enum's ``.value`` is a slow property on the hot path).
_KIND_VALUE = {k: k.value for k in ContextKind}


#: What a pooled worker switches back with when its body returned.
_DONE = object()
#: Idle worker greenlets by thread (a greenlet belongs to the thread that made it).
_POOLS: dict[int, list[greenlet]] = {}
_POOL_MAX = 64


def _pool() -> list[greenlet]:
    """This thread's idle workers."""
    p = _POOLS.get(get_ident())
    if p is None:
        p = _POOLS[get_ident()] = []
    return p


class _Failed:
    """What a pooled worker switches back with when its body raised: the exception, re-raised by
    the engine where a dying greenlet's exception would have surfaced."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _worker(main: greenlet, body: Body, m: Machine) -> None:
    """A context's greenlet, reused: runs one body to its end, reports to the engine, and waits
    for the next.  Creating a greenlet per context (and its stack) costs more than a dozen
    switches; interrupt-heavy scenarios create a thousand per schedule.  Python scenarios keep
    a greenlet per context (their line guard is per greenlet)."""
    while True:
        res: Any = _DONE
        try:
            body(m)
        except _TaskExit:
            pass
        except GreenletExit:
            raise
        except BaseException as e:  # handed to the engine, which decides what it means
            res = _Failed(e)
        body = m = None  # type: ignore[assignment]
        main, body, m = main.switch(res)



class ContextLifecycle(SchedulingPoints):
    """The part of :class:`~highmem.sim.engine.Simulator` that starts, resumes and ends contexts
    (the main loop's side of a choice, made by :class:`~highmem.sim.options.SchedulingPoints`)."""

    # State owned by Simulator, used here.
    python_code: bool
    lines: int
    max_lines: int
    injections: int
    status: str
    stop_reason: str | None
    checker: Checker
    contexts: dict[str, Context]
    glets: dict[str, greenlet]
    _unstarted: dict[str, Body]
    _wpool: list[greenlet]
    _handlers_irqs_off: bool

    # -- greenlets --------------------------------------------------------------
    def _make_glet(self, ctx: Context, body: Body) -> None:
        if not self.python_code:
            # A pooled worker (see _worker): the body is handed over at the context's first resume.
            pool = self._wpool
            self.glets[ctx.name] = pool.pop() if pool else greenlet(_worker)
            self._unstarted[ctx.name] = body
            return
        m = self.m
        guard = self._line_guard

        def run() -> None:
            if guard is not None:
                sys.settrace(guard)
            try:
                body(m)
            except _TaskExit:
                pass
            finally:
                if guard is not None:
                    sys.settrace(None)

        self.glets[ctx.name] = greenlet(run)

    def _line_guard(self, frame: Any, event: str, arg: Any) -> Any:
        """sys.settrace hook for Python scenarios: a loop that never reaches a kernel primitive
        still ends, after ``max_steps * 100`` lines, as a step-budget finding (deterministic:
        lines are counted, never timed).  Only the user's frames are traced line by line;
        highmem's own frames (the kernel model) are not."""
        if frame.f_code.co_filename.startswith(_HIGHMEM_DIR):
            return None
        return self._count_lines

    def _count_lines(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            self.lines += 1
            if self.lines > self.max_lines:
                raise StepBudgetExceeded("python code")
        return self._count_lines

    def _emit(self, ctx: Context, what: str, detail: str = "") -> None:
        bus = self.m.bus
        if bus.active:
            if bus.emit is self.checker:
                # The checker alone: only the context events it judges are built (a direct hook,
                # as on_access is for loads and stores).
                if what in CONTEXT_EVENTS_JUDGED:
                    self.checker.on_context(ctx.cpu, ctx.name, _KIND_VALUE[ctx.kind], what, detail)
                return
            bus.emit(_new(ContextEvent, (ctx.cpu, ctx.name, _KIND_VALUE[ctx.kind], what, detail)))


    # -- applying choices --------------------------------------------------------
    def _apply(self, opt: Option) -> None:
        # Resuming the context on top of its CPU changes nothing the options depend on; every
        # branch that does change state bumps _ver itself.
        c = opt.cpu
        st = self.m.cpu_state[c]
        if opt.kind == "irq":
            self._ver += 1
            ctx = self._enter_irq(c, opt.name)
        elif opt.kind == "softirq":
            self._ver += 1
            ctx = self._enter_softirq(c, opt.name)
        else:
            ctx = self.contexts[opt.name]
            if not st.stack or st.stack[-1] is not ctx:
                self._ver += 1
                if st.stack:
                    # CONFIG_PREEMPT: the running task is preempted in favour of ctx.
                    prev = st.stack[-1]
                    self._off_cpu(prev, "runnable", "preempt")
                    self.runq[c].append(prev)
                self.runq[c].remove(ctx)
                st.stack.append(ctx)
                # 2.4's schedule() returns with interrupts enabled (spin_unlock_irq of runqueue_lock).
                st.irq_enabled = True
                if self.m.bus.emit is not self.checker:  # else _emit would drop it unbuilt
                    self._emit(ctx, "switch_in" if ctx.data.get("started") else "start")
                ctx.data["started"] = True
                if self.m.sched_in_hook is not None:
                    self.m.sched_in_hook(self.m, ctx)
            if self.pending_irq[c]:
                name = self._deliverable(c)
                if name is not None:
                    self._ver += 1
                    ctx = self._enter_irq(c, name)
        self._resume(ctx)

    def _enter_irq(self, c: int, name: str) -> Context:
        src = self.irqs[(name, c)]
        if name in self.pending_irq[c]:
            self.pending_irq[c].remove(name)
        else:
            src.fired += 1
            self.injections += 1
        src.count += 1
        spec = src.spec
        assert isinstance(spec, IrqSpec)
        # Context(f"{name}#{src.count}", ContextKind.HARDIRQ, c), without its __init__ frame.
        ctx = _new_context(Context)
        ctx.name = f"{name}#{src.count}"
        ctx.kind = ContextKind.HARDIRQ
        ctx.cpu = c
        ctx.state = "new"
        ctx.data = {}
        # Since 2.6.35 every handler runs with interrupts disabled (IRQF_DISABLED became the rule);
        # before, only SA_INTERRUPT ("fast") handlers did.
        irqs_on = not spec.sa_interrupt and not self._handlers_irqs_off
        return self._push_handler(ctx, name, spec.body, irq_enabled=irqs_on)

    def _enter_softirq(self, c: int, name: str) -> Context:
        src = self.softirqs[(name, c)]
        if name in self.pending_softirq[c]:
            self.pending_softirq[c].remove(name)
        else:
            src.fired += 1
            self.injections += 1
        src.count += 1
        # Context(f"{name}#{src.count}", ContextKind.SOFTIRQ, c), without its __init__ frame.
        ctx = _new_context(Context)
        ctx.name = f"{name}#{src.count}"
        ctx.kind = ContextKind.SOFTIRQ
        ctx.cpu = c
        ctx.state = "new"
        ctx.data = {}
        return self._push_handler(ctx, name, src.spec.body, irq_enabled=True)

    def _push_handler(self, ctx: Context, source: str, body: Body, irq_enabled: bool) -> Context:
        st = self.m.cpu_state[ctx.cpu]
        ctx.data["entity"] = source
        ctx.data["run"] = _new(Option, ("run", ctx.cpu, ctx.name, source))
        ctx.data["saved_if"] = st.irq_enabled
        if st.stack:
            st.stack[-1].state = "interrupted"
        st.stack.append(ctx)
        if ctx.kind is ContextKind.HARDIRQ:
            st.local_irq_count += 1
            self.in_progress[ctx.cpu].add(source)
        else:
            st.local_bh_count += 1
        st.irq_enabled = irq_enabled
        self.contexts[ctx.name] = ctx
        if not self.python_code:
            # _make_glet's pooled worker, inlined: the body is handed over at the first resume.
            pool = self._wpool
            self.glets[ctx.name] = pool.pop() if pool else greenlet(_worker)
            self._unstarted[ctx.name] = body
        else:
            self._make_glet(ctx, body)
        if self.m.bus.emit is not self.checker:  # else _emit would drop it unbuilt
            self._emit(ctx, "irq_enter" if ctx.kind is ContextKind.HARDIRQ else "softirq_enter", source)
        return ctx

    def _resume(self, ctx: Context) -> None:
        m = self.m
        m.current = ctx
        m.cpus[ctx.cpu].context = ctx.name
        ctx.state = "running"
        g = self.glets[ctx.name]
        try:
            body = self._unstarted.pop(ctx.name, None) if self._unstarted else None
            r = g.switch() if body is None else g.switch(self.main, body, m)
            if r.__class__ is _Failed:
                raise r.exc
        except (KernelBUG, Oops) as e:
            if isinstance(e, Oops) and not isinstance(e, PageFault):
                # A page fault and a BUG() reach the checker as events; any other Oops
                # (a device's DMA beyond its limit) is reported here.
                self.checker.report(Finding("kernel-bug", f"{ctx.name} on CPU {ctx.cpu}: {e}", ctx.cpu,
                                            [ctx.name], steps=[self.step]))
            self._stop("stopped", str(e))
            return
        except StepBudgetExceeded as e:
            if not self.python_code:
                raise
            if e.args and e.args[0] == "python code":
                msg = (f"{ctx.name} ran {self.max_lines} lines of Python without finishing (the budget is "
                       f"100 lines per step of max_steps {self.max_steps}): an endless loop?")
            else:
                msg = f"{ctx.name} did not finish within the step budget of {self.max_steps} steps"
            import traceback  # only for Python scenarios' findings: not on every start-up

            stack = "".join(traceback.format_exception(type(e), e, e.__traceback__))
            self.checker.report(Finding("step-budget", msg, ctx.cpu, [ctx.name], steps=[self.step], stack=stack))
            self._stop("stopped", "step budget")
            return
        except HighmemError:
            raise
        except (Exception, SystemExit) as e:  # user code of a Python scenario
            if not self.python_code:
                raise SimulatorError(f"internal error while running {ctx.name}: {e!r}") from e
            import traceback  # only for Python scenarios' findings: not on every start-up

            stack = "".join(traceback.format_exception(type(e), e, e.__traceback__))
            self.checker.report(Finding(
                "python-exception", f"{ctx.name} raised {type(e).__name__}: {e}", ctx.cpu, [ctx.name],
                steps=[self.step], stack=stack))
            self._stop("stopped", f"{type(e).__name__} in {ctx.name}")
            return
        if r is _DONE or g.dead:
            self._context_done(ctx)

    def _stop(self, status: str, reason: str) -> None:
        self.status = status
        self.stop_reason = reason
        self._next = None

    def _context_done(self, ctx: Context) -> None:
        self._ver += 1
        st = self.m.cpu_state[ctx.cpu]
        if not st.stack or st.stack[-1] is not ctx:
            raise SimulatorError(f"{ctx.name} ended but is not on top of CPU {ctx.cpu}")
        st.stack.pop()
        ctx.state = "exited"
        g = self.glets.pop(ctx.name)
        if not g.dead:
            # A pooled worker whose body returned: idle again, for the next context.
            pool = self._wpool
            if len(pool) < _POOL_MAX:
                pool.append(g)
        if ctx.kind is ContextKind.TASK:
            self.live_tasks -= 1
            bus = self.m.bus
            if bus.active and bus.emit is self.checker:
                # _emit's direct hook, inlined (the checker judges "end").
                self.checker.on_context(ctx.cpu, ctx.name, _KIND_VALUE[ctx.kind], "end", "exit")
            else:
                self._emit(ctx, "end", "exit")
            if st.local_bh_count and not st.stack:
                # Returning from the task body is do_exit(): it panics when in_interrupt().
                self.checker.report(Finding(
                    "kernel-bug", f"{ctx.name} on CPU {ctx.cpu}: kernel panic in do_exit: Aiee, killing interrupt "
                    f"handler! (the task exits with bottom halves disabled, local_bh_count {st.local_bh_count})",
                    ctx.cpu, [ctx.name], steps=[self.step]))
            if not st.stack:
                # do_exit ends in schedule(); the CPU idles with interrupts enabled.
                st.irq_enabled = True
            return
        source = ctx.data["entity"]
        # A handler never runs again: nothing names it any more (an interrupt-heavy run starts a
        # thousand of them, which would otherwise stay alive to its end and wake the cyclic GC).
        del self.contexts[ctx.name]
        self._opts_cache.pop(ctx, None)
        if ctx.kind is ContextKind.HARDIRQ:
            st.local_irq_count -= 1
            self.in_progress[ctx.cpu].discard(source)
            if self.m.bus.emit is not self.checker:  # else _emit would drop it unbuilt
                self._emit(ctx, "irq_exit", source)
        else:
            st.local_bh_count -= 1
            if self.m.bus.emit is not self.checker:  # else _emit would drop it unbuilt
                self._emit(ctx, "softirq_exit", source)
        bus = self.m.bus
        if bus.active and bus.emit is self.checker:
            # _emit's direct hook, inlined (the checker judges "end").
            self.checker.on_context(ctx.cpu, ctx.name, _KIND_VALUE[ctx.kind], "end", source)
        else:
            self._emit(ctx, "end", source)
        st.irq_enabled = ctx.data["saved_if"]
        if st.stack:
            st.stack[-1].state = "running"
        # irq_exit / the do_softirq loop: pending softirqs run now when not in interrupt.
        if self.pending_softirq[ctx.cpu] and st.local_irq_count == 0 and st.local_bh_count == 0:
            name = self.pending_softirq[ctx.cpu][0]
            self._next = Option("softirq", ctx.cpu, name, name)

