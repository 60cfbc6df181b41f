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

from collections.abc import Callable
from functools import partial

from greenlet import greenlet

from highmem.errors import HighmemError, SimulatorError
from highmem.kernel.context import Context, ContextKind
from highmem.kernel.machine import Machine
from highmem.sim.checker import Checker
from highmem.sim.contexts import _POOL_MAX, ContextLifecycle, _pool
from highmem.sim.findings import Finding
from highmem.sim.hooks import IPI_NAME
from highmem.sim.options import Option, StepBudgetExceeded, _Source
from highmem.sim.workload import IrqSpec, Workload
from highmem.words import plural

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NamedTuple

    from highmem.sim.strategy import Strategy
    from highmem.sim.workload import Body
else:
    from highmem._typing import NamedTuple

__all__ = ["Option", "Simulator", "RunResult", "StepBudgetExceeded"]

_new = tuple.__new__


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



class Simulator(ContextLifecycle):
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
