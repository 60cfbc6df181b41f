"""The scheduling point, and the options offered there: what may happen next.

Every kernel primitive, load and store calls :meth:`SchedulingPoints._point` first.  There the
engine lists the *options* (:class:`Option`: run a context, deliver an interrupt, run a softirq)
and asks the strategy to choose; a choice other than option 0 switches to the engine's main loop,
which applies it (:mod:`highmem.sim.contexts`).

The option list is cached per running context.  A cached list is in one of three states: *valid*
(neither the engine's version nor the machine's epoch moved since it was made: taken as it is),
*unsure* (the epoch moved: taken if every CPU flag it read is unchanged, compared, and then valid
again) or *stale* (the version moved: recomputed).  Whatever changes what may run bumps the
version: a context entering, leaving or ending on a CPU, a run queue, a pending interrupt or
softirq, a lock taken or released while some context spins, a device's queue, a preempt count.
A change of a CPU's interrupt flag or bottom-half count bumps the epoch.
tests/test_engine_options_cache.py checks that every list the rule takes equals a recomputation.
"""

from __future__ import annotations

from collections.abc import Callable

from highmem.kernel.context import Context, ContextKind
from highmem.sim.hooks import KernelHooks
from highmem.sim.workload import IrqSpec, SoftirqSpec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NamedTuple

    from greenlet import greenlet

    from highmem.sim.strategy import Strategy
else:
    from highmem._typing import NamedTuple

__all__ = ["Option", "SchedulingPoints", "StepBudgetExceeded"]

_new = tuple.__new__


class Option(NamedTuple):
    """One thing that may happen next; ``entity`` is the task or interrupt source it belongs to."""

    kind: str
    cpu: int
    name: str
    entity: str

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}@{self.cpu}"



class StepBudgetExceeded(Exception):
    """The run took more steps than its budget."""



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



class SchedulingPoints(KernelHooks):
    """The part of :class:`~highmem.sim.engine.Simulator` that computes the options and makes the
    choices: ``_point`` runs in the calling context's greenlet, ``_choose`` in the main loop.
    (:class:`~highmem.sim.contexts.ContextLifecycle`, above it, applies them.)"""

    # State owned by Simulator, used here.
    strategy: Strategy
    max_steps: int
    points: int
    choices: list[tuple[int, str]]
    preemptions: int
    main: greenlet | None
    in_progress: list[set[str]]
    live_tasks: int
    _next: Option | None
    _opts_cache: dict[Context | None, list[Any]]
    _deps: list[Any]
    _cpu_rows: list[tuple[Any, ...]]
    _optional_rows: list[tuple[Any, ...]]

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
        i = self.strategy.choose(opts, self, at_point)  # type: ignore[arg-type]  # self is a Simulator
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
                i = strategy.choose(opts, self, True)  # type: ignore[arg-type]  # self is a Simulator
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

