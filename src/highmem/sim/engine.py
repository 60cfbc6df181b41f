"""The engine: runs tasks, interrupts and softirqs on simulated CPUs, one step at a time.

Every kernel primitive, load and store calls :meth:`Simulator._point` first:
that is a *scheduling point*.  There the engine lists what could happen
next (the *options*) and asks the strategy to choose:

* ``run X@c`` - the context X on top of CPU c executes its next step (for an
  idle CPU: task X is picked from its run queue);
* ``irq N@c`` - interrupt N is delivered on CPU c (only while c has
  interrupts enabled and N is not already in progress there);
* ``softirq S@c`` - softirq S runs on CPU c (only outside interrupt
  context, with bottom halves and interrupts enabled).

When there is only one option no choice is recorded.  The recorded
choices, in order, are the *schedule*: replaying them reproduces the run
exactly, since nothing else is random.  Interrupts raised by code (IPIs)
are delivered as soon as their CPU executes with interrupts enabled, and
pending softirqs run at irq_exit and local_bh_enable, as in 2.4.

Each context runs in its own greenlet, so scenario code is plain Python.
The 2.4 kernel is not preemptible: a task keeps its CPU until it calls
schedule(), sleeps or exits; only interrupts and other CPUs interleave.
(With CONFIG_PREEMPT on a 2.6+ profile the engine may also preempt a task
whose preempt count is 0.)

Departure from Linux: tasks are pinned to the CPU the scenario names; the
scheduler never migrates them (which CPU a task runs on is part of what a
scenario states, and kmap slots are per CPU).  ``flush_tlb_all`` and other
cross-CPU work go through modelled IPIs instead.

Run states: *running* until no option remains; then *done* (every task
exited), or *deadlocked* (some task still sleeps), or *stopped* early by
a kernel BUG, an Oops or an exception in Python scenario code.
"""

from __future__ import annotations

import sys
from _thread import get_ident
from collections.abc import Callable
from functools import partial

from greenlet import GreenletExit, greenlet

from highmem.errors import HighmemError, KernelBUG, Oops, PageFault, SimulatorError
from highmem.events import ContextEvent
from highmem.kernel.context import Context, ContextKind
from highmem.kernel.machine import Machine
from highmem.sim.checker import CONTEXT_EVENTS_JUDGED, Checker
from highmem.sim.findings import Finding
from highmem.sim.hooks import IPI_NAME, KernelHooks, _TaskExit
from highmem.sim.workload import Body, IrqSpec, SoftirqSpec, Workload
from highmem.words import plural

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NamedTuple
else:
    from highmem._typing import NamedTuple

if TYPE_CHECKING:
    from highmem.sim.strategy import Strategy

__all__ = ["Option", "Simulator", "RunResult", "StepBudgetExceeded"]


class Option(NamedTuple):
    """One thing that may happen next; ``entity`` is the task or interrupt source it belongs to."""

    kind: str
    cpu: int
    name: str
    entity: str

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}@{self.cpu}"


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


class StepBudgetExceeded(Exception):
    """The run took more steps than its budget."""


class RunResult(NamedTuple):
    """The outcome of one schedule."""

    status: str
    steps: int
    findings: list[Finding]
    points: int
    choices: list[tuple[int, str]]
    preemptions: int
    injections: int
    stop_reason: str | None
    stats: dict[str, int]


class _Source:
    # The spec's fields the options need, copied (the options are computed at most steps).
    __slots__ = ("spec", "fired", "kind", "count", "name", "cpu", "max", "ready", "is_irq")

    def __init__(self, spec: IrqSpec | SoftirqSpec, kind: str) -> None:
        self.spec = spec
        self.kind = kind
        self.fired = 0
        self.count = 0
        self.name = spec.name
        self.cpu = spec.cpu
        self.max = spec.max
        self.ready: Callable[[], bool] | None = getattr(spec, "ready", None)
        self.is_irq = kind == "irq"


class Simulator(KernelHooks):
    """Runs one :class:`Workload` on one machine under one strategy (one schedule)."""

    # Slots: the engine reads its state at every step (a slot is the quickest attribute).  KernelHooks
    # has none, so instances keep a __dict__: other attributes (a subclass's) can still be set.
    __slots__ = ("m", "workload", "strategy", "max_steps", "python_code", "step", "lines", "max_lines", "points",
                 "choices", "preemptions", "injections", "status", "stop_reason", "contexts", "glets", "_unstarted",
                 "runq", "pending_irq", "pending_softirq", "in_progress", "ipi_funcs", "waitq", "completions",
                 "irqs", "softirqs", "_optional", "_next", "_ver", "_opts_cache", "main", "_wpool", "checker",
                 "live_tasks", "_cpu_rows", "_optional_rows", "_deps", "_spinning",
                 "_handlers_irqs_off")

    def __init__(self, m: Machine, workload: Workload, strategy: Strategy, *, max_steps: int = 200_000,
                 python_code: bool = False) -> None:
        self.m = m
        self.workload = workload
        self.strategy = strategy
        self.max_steps = max_steps
        self.python_code = python_code
        self.step = 0
        #: lines of Python scenario code executed (only counted for Python scenarios)
        self.lines = 0
        self.max_lines = max_steps * 100
        #: how many choice points the run went through
        self.points = 0
        #: (choice-point number, label) of every choice other than option 0
        self.choices: list[tuple[int, str]] = []
        self.preemptions = 0
        self.injections = 0
        self.status = "running"
        self.stop_reason: str | None = None
        self.contexts: dict[str, Context] = {}
        self.glets: dict[str, greenlet] = {}
        #: contexts whose pooled worker has not been handed their body yet
        self._unstarted: dict[str, Body] = {}
        ncpu = len(m.cpus)
        # Per-CPU queues, built in one loop (a schedule builds a simulator: comprehensions cost a frame each).
        self.runq: list[list[Context]] = []
        self.pending_irq: list[list[str]] = []
        self.pending_softirq: list[list[str]] = []
        self.in_progress: list[set[str]] = []
        #: CALL_FUNCTION_VECTOR of every CPU: smp_call_function()'s IPI, with its queue of functions.
        self.ipi_funcs: list[list[Callable[[Machine], None]]] = []
        for _ in range(ncpu):
            self.runq.append([])
            self.pending_irq.append([])
            self.pending_softirq.append([])
            self.in_progress.append(set())
            self.ipi_funcs.append([])
        self.waitq: dict[str, list[Context]] = {}
        self.completions: dict[str, int] = {}
        self.irqs: dict[tuple[str, int], _Source] = {}
        for s in workload.irqs:
            self.irqs[(s.name, s.cpu)] = _Source(s, "irq")
        for c in range(ncpu):
            spec = IrqSpec(IPI_NAME, c, self._ipi_handler, max=0, sa_interrupt=True)
            self.irqs[(IPI_NAME, c)] = _Source(spec, "irq")
        self.softirqs: dict[tuple[str, int], _Source] = {}
        for ss in workload.softirqs:
            self.softirqs[(ss.name, ss.cpu)] = _Source(ss, "softirq")
        sources = (*self.irqs.values(), *self.softirqs.values())
        #: the sources that may arrive without being raised ("up to max", or a device's line)
        self._optional: list[_Source] = []
        for src in sources:
            if src.max != 0 or src.ready is not None:
                self._optional.append(src)
        self._next: Option | None = None
        #: bumped on every change of engine state that can change the options
        self._ver = 0
        #: contexts busy-waiting in spin() now; while there are any, taking a spin lock bumps _ver
        #: (a spinner's condition turns false, announced to no one)
        self._spinning = 0
        #: the profile runs every handler with interrupts disabled (2.6.35 on)
        self._handlers_irqs_off = bool(m.profile.extra.get("handlers_irqs_off", False))
        #: per running context (None: the main loop), a list: the engine version, the (CPU state,
        #: IF, local_bh_count) triples of the CPUs whose flags the options read, the options, and
        #: the machine's epoch; see _options
        self._opts_cache: dict[Context | None, list[Any]] = {}
        #: the flag triples the last _compute_options read
        self._deps: list[Any] = []
        self.main: greenlet | None = None
        #: this thread's idle workers (a greenlet belongs to the thread that made it)
        self._wpool = _pool()
        # The step as a C-level callable (a lambda would add a Python frame to every judgement).
        self.checker = Checker(m, partial(getattr, self, "step"))
        m.subscribe(self.checker)
        m.engine = self
        m.sched_point = self._point
        for t in workload.tasks:
            if not 0 <= t.cpu < ncpu:
                raise HighmemError(f"task {t.name!r} is on CPU {t.cpu}, which is not online "
                                   f"(this machine has CPUs 0 to {ncpu - 1})")
            if t.name in self.contexts:
                raise HighmemError(f"task name {t.name!r} is used twice: context names must be unique")
            ctx = Context(t.name, ContextKind.TASK, t.cpu)
            ctx.data["entity"] = t.name
            ctx.data["run"] = _new(Option, ("run", t.cpu, t.name, t.name))
            ctx.state = "runnable"
            self.contexts[t.name] = ctx
            self._make_glet(ctx, t.body)
            self.runq[t.cpu].append(ctx)
        #: tasks that have not exited yet
        self.live_tasks = len(workload.tasks)
        for src in sources:
            if not 0 <= src.spec.cpu < ncpu:
                raise HighmemError(f"{src.kind} {src.spec.name!r} is routed to CPU {src.spec.cpu}, which is not "
                                   f"online (this machine has CPUs 0 to {ncpu - 1})")
        # What _compute_options reads for each CPU and each optional source, gathered once (the
        # lists are only ever changed in place).
        self._cpu_rows: list[tuple[Any, ...]] = []
        for st in m.cpu_state:
            c = st.cpu
            self._cpu_rows.append((st, c, self.runq[c], self.pending_irq[c], self.pending_softirq[c],
                                   self.in_progress[c]))
        self._optional_rows: list[tuple[Any, ...]] = []
        for src in self._optional:
            c = src.cpu
            # The option of its arrival, built once (as a context's option to run is).
            arrival = _new(Option, (src.kind, c, src.name, src.name))
            self._optional_rows.append((src, m.cpu_state[c], src.name, src.is_irq, self.in_progress[c],
                                        self.pending_irq[c], self.pending_softirq[c], arrival))

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

    # -- options and choices ----------------------------------------------------
    def _deliverable(self, c: int) -> str | None:
        pend = self.pending_irq[c]
        if pend and self.m.cpu_state[c].irq_enabled:
            busy = self.in_progress[c]
            for name in pend:
                if name not in busy:
                    return name
        return None

    def _options(self, cur: Context | None) -> list[Option]:
        # One cached list per running context (inlined in _point and run).  It is valid while the
        # engine's version (contexts, queues, preempt counts) has not moved and every CPU whose
        # flags the options read has the IF and bottom-half count it had: compared, not versioned,
        # so one CPU's cli does not recompute another's options, nor a cli and its sti anything.
        # The machine's epoch first: when no flag changed since the list was made (or last found
        # valid), it is taken without comparing.
        hit = self._opts_cache.get(cur)
        if hit is not None and hit[0] == self._ver:
            if hit[3] == self.m.epoch:
                return hit[2]  # type: ignore[no-any-return]
            deps = hit[1]
            i = 0
            n = len(deps)
            while i < n and deps[i].irq_enabled == deps[i + 1] and deps[i].local_bh_count == deps[i + 2]:
                i += 3
            if i == n:
                hit[3] = self.m.epoch
                return hit[2]  # type: ignore[no-any-return]
        opts = self._compute_options(cur)
        self._opts_cache[cur] = [self._ver, self._deps, opts, self.m.epoch]
        return opts

    def _compute_options(self, cur: Context | None) -> list[Option]:
        # A context's option to run is built once, when the context is (data["run"]); the others
        # with tuple.__new__ (a NamedTuple's own __new__ is a Python function). What is read of
        # each CPU and source comes from rows gathered at construction (this runs at most steps of
        # busy scenarios).
        # The flags the options depend on are gathered as (state, IF, local_bh_count) triples: of
        # CPUs with interrupts or softirqs waiting for them, those an optional source may arrive on
        # and, with CONFIG_PREEMPT, the running context's.  (local_irq_count is the engine's own.)
        opts: list[Option] = []
        add = opts.append
        deps: list[Any] = []
        # Only a context suspended in spin() has a condition to test (most runs have none).
        spinning = self._spinning
        cur_cpu = -1
        if cur is not None:
            cur_cpu = cur.cpu
            add(cur.data["run"])
            m = self.m
            if m.preemptible:
                st = m.cpu_state[cur_cpu]
                deps += (st, st.irq_enabled, st.local_bh_count)
                if (cur.kind is ContextKind.TASK and self.runq[cur_cpu] and st.irq_enabled
                        and not cur.data.get("preempt_count") and st.local_irq_count == 0
                        and st.local_bh_count == 0):
                    for t in self.runq[cur_cpu]:
                        add(t.data["run"])
        for st, c, runq, pend, spend, busy in self._cpu_rows:
            stack = st.stack
            if stack:
                top = stack[-1]
                if top is not cur:
                    if not spinning:
                        add(top.data["run"])
                    else:
                        spin = top.data.get("spin")
                        if spin is None or spin[0]():
                            add(top.data["run"])
            else:
                for t in runq:
                    add(t.data["run"])
            if pend or spend:
                # (Most CPUs have neither: one test for them.)
                if (spend and st.local_irq_count == 0) or (pend and cur_cpu != c):
                    deps += (st, st.irq_enabled, st.local_bh_count)
                if st.irq_enabled:
                    if pend and cur_cpu != c:
                        for name in pend:
                            if name not in busy:
                                add(_new(Option, ("irq", c, name, name)))
                    if spend and st.local_irq_count == 0 and st.local_bh_count == 0:
                        for name in spend:
                            add(_new(Option, ("softirq", c, name, name)))
        # Optional arrivals ("up to max") only while some task has not exited: once every
        # task is done the run ends, so schedules where an interrupt never comes exist too.
        if self.live_tasks:
            for src, st, name, is_irq, busy, pend, spend, arrival in self._optional_rows:
                if 0 <= src.max <= src.fired:
                    continue
                ready = src.ready
                if ready is not None and not ready():
                    continue
                # What the engine's own state rules out first: whether the flags allow it is a
                # dependency only of a source that may otherwise arrive.
                if is_irq:
                    if name in busy or name in pend:
                        continue
                elif st.local_irq_count or name in spend:
                    continue
                deps += (st, st.irq_enabled, st.local_bh_count)
                if not st.irq_enabled:
                    continue
                if is_irq or st.local_bh_count == 0:
                    add(arrival)
        self._deps = deps
        return opts

    def _choose(self, opts: list[Option], at_point: bool) -> int:
        i = self.strategy.choose(opts, self, at_point)
        if i:
            o = opts[i]
            self.choices.append((self.points, f"{o.kind} {o.name}@{o.cpu}"))  # o.label
            if at_point and o.kind == "run":
                self.preemptions += 1
        self.points += 1
        return i

    def _point(self, op: str) -> None:
        step = self.step = self.step + 1
        if step > self.max_steps:
            raise StepBudgetExceeded(op)
        m = self.m
        cur = m.current
        if self.pending_irq[cur.cpu]:
            c = cur.cpu
            name = self._deliverable(c)
            if name is not None:
                self._switch_main(Option("irq", c, name, name))
                return
        # _options(cur)'s first test inlined (the options are looked up at every step, and most
        # often no flag changed); the rest is its own.
        hit = self._opts_cache.get(cur)
        if hit is not None and hit[0] == self._ver and hit[3] == m.epoch:
            opts = hit[2]
        else:
            opts = self._options(cur)
        if len(opts) > 1:
            # _choose(opts, True), inlined (a frame less at every choice point), and without the
            # call where the strategy promised its answer (Strategy.memo_opts).
            strategy = self.strategy
            if opts is strategy.memo_opts and step < strategy.memo_until:
                i = strategy.memo_choice
            else:
                i = strategy.choose(opts, self, True)
            self.points += 1
            if i:
                o = opts[i]
                self.choices.append((self.points - 1, f"{o.kind} {o.name}@{o.cpu}"))  # o.label
                if o.kind == "run":
                    self.preemptions += 1
                # _switch_main, inlined.
                self._next = o
                main = self.main
                assert main is not None
                main.switch()

    def _switch_main(self, nxt: Option | None) -> None:
        self._next = nxt
        assert self.main is not None
        self.main.switch()

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

    # -- the run ------------------------------------------------------------------
    def run(self) -> RunResult:
        """Execute the workload to the end under the strategy; returns the result."""
        self.main = greenlet.getcurrent()
        nxt: Option | None = None
        m = self.m
        cache = self._opts_cache
        try:
            idle = 0
            last_step = -1
            while self.status == "running":
                if nxt is None:
                    # _options(None)'s first test inlined (no flag changed); the rest is its own.
                    hit = cache.get(None)
                    if hit is not None and hit[0] == self._ver and hit[3] == m.epoch:
                        opts = hit[2]
                    else:
                        opts = self._options(None)
                    if not opts:
                        break
                    nxt = opts[self._choose(opts, False)] if len(opts) > 1 else opts[0]
                self._next = None
                self._apply(nxt)
                nxt = self._next
                # Every decision must lead to progress: a loop of decisions without a single
                # step is a bug in the engine, reported rather than hung on.
                idle = idle + 1 if self.step == last_step else 0
                last_step = self.step
                if idle > 100_000:
                    raise SimulatorError(f"the engine made 100,000 decisions without a step at step {self.step}: "
                                         f"{self.describe_state()}")
            if self.status == "running":
                self._finish()
        finally:
            self.m.sched_point = None
            self.m.engine = None
            # The run is over: break the reference cycles through this simulator (the checker's step,
            # the IPI handlers' bound methods), so that it is freed at once, not by the cyclic garbage
            # collector (whose collections a schedule's garbage would otherwise trigger).
            self.checker.step_of = partial(int, self.step)  # the step is final: the same answers
            for key in [k for k in self.irqs if k[0] == IPI_NAME]:
                del self.irqs[key]
            # Workers of contexts that never ran go back to the pool untouched.
            pool = self._wpool
            for name in self._unstarted:
                g = self.glets.pop(name)
                if len(pool) < _POOL_MAX:
                    pool.append(g)
            self._unstarted.clear()
        return _new(RunResult, (self.status, self.step, self.checker.findings, self.points, self.choices,
                                self.preemptions, self.injections, self.stop_reason, self.m.stats()))

    def _finish(self) -> None:
        # Plain loops: a comprehension is a frame, and most runs end with nobody waiting.
        sleepers: list[Context] = []
        for q in self.waitq.values():
            for t in q:
                if t.state == "sleeping":
                    sleepers.append(t)
        spinners: list[Context] = []
        for st in self.m.cpu_state:
            for c in st.stack:
                if c.data.get("spin") is not None:
                    spinners.append(c)
        if sleepers or spinners:
            self.status = "deadlocked"
            parts = [f"{t.name} sleeps on {t.data.get('queue')!r} since step {t.data.get('slept_at')}"
                     for t in sleepers]
            parts += [f"{c.name} on CPU {c.cpu} spins in {c.data['spin'][1]} since step {c.data.get('spin_since')}"
                      + ("" if self.m.cpu_state[c.cpu].irq_enabled else " with interrupts disabled")
                      for c in spinners]
            pend = [f"{name} pending on CPU {cpu}" for cpu, names in enumerate(self.pending_irq) for name in names]
            if pend:
                parts.append("undeliverable: " + ", ".join(pend))
            waiting = sleepers + spinners
            self.checker.report(Finding(
                "deadlock", f"nothing can run and {plural(len(waiting), 'context waits')}: " + "; ".join(parts),
                None, [t.name for t in waiting],
                steps=sorted(int(t.data.get("slept_at", t.data.get("spin_since", 0)) or 0) for t in waiting)
                + [self.step]))
            return
        self.status = "done"
        if self.workload.finish is not None:
            self.workload.finish(self.m, self.checker)

    def describe_state(self) -> dict[str, Any]:
        """A snapshot for debugging: per-CPU stacks and run queues."""
        return {
            "step": self.step,
            "cpus": [[c.name for c in st.stack] for st in self.m.cpu_state],
            "runq": [[c.name for c in q] for q in self.runq],
        }
