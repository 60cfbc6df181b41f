"""The explorer: runs many schedules of a scenario and collects what the checker finds.

``explore`` boots one machine and builds the workload once per exploration,
takes a :class:`~highmem.snapshot.Snapshot` of both and restores it in place
before every later schedule (so runs never share state, and a schedule
costs what its steps cost, not a boot), drives it with the chosen strategy, counts findings by kind, keeps
the first schedule that produced each kind and shrinks it: the shrunk
schedule is the one a user sees and replays first.

Strategies: ``random`` and ``pct`` derive schedule i's seed from the user's
seed and i; ``exhaustive`` enumerates schedules depth-first with at most
``max_preemptions`` switches away from a context that could continue and
``max_interrupts`` optional interrupt arrivals, up to ``schedules`` runs;
``dpor`` runs at least one schedule of every class of equivalent ones within its bounds
(:mod:`highmem.sim.dpor`, whose bounds are counted per CPU so that a class keeps them).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable

from highmem._record import field, record
from highmem.errors import HighmemError
from highmem.kernel.config import KernelConfig
from highmem.kernel.machine import Machine
from highmem.scenarios.model import Scenario
from highmem.sim.engine import RunResult, Simulator
from highmem.sim.findings import Finding
from highmem.sim.strategy import (
    DefaultStrategy,
    PCTStrategy,
    PrefixStrategy,
    RandomStrategy,
    ReplayDivergence,
    SparseReplayStrategy,
    Strategy,
)
from highmem.sim.trace import TraceRecorder
from highmem.sim.workload import Workload

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["explore", "run_once", "run_range", "pct_k", "shrink", "Exploration", "KindReport", "STRATEGIES",
           "schedule_seed", "Booted"]

STRATEGIES = ("random", "pct", "exhaustive", "dpor")


def schedule_seed(seed: int, index: int) -> int:
    """The seed of schedule ``index`` of a run seeded ``seed`` (independent of how runs are split)."""
    return (seed * 1_000_003 + index) & 0xFFFFFFFFFFFF


class Booted:
    """One exploration's machine and workload: booted and built once, restored before each schedule.

    States: *empty* (nothing booted yet) and *used* (a machine was handed
    out); :meth:`acquire` hands out a machine as freshly booted: the first
    two boot (the second is snapshotted), every later one restores; when the caller plans exactly
    two runs (``planned=2``: a PCT calibration and one schedule), the snapshot waits for a third
    run (only shrinking asks for one), which boots too.  When the snapshot cannot
    restore something the workload holds (:class:`~highmem.snapshot.SnapshotUnsupported`),
    every :meth:`acquire` boots afresh, as explorations did before snapshots.
    ``snapshot=False`` asks for that from the start (digests of results are
    pinned against it).
    """

    def __init__(self, sc: Scenario, cfg: KernelConfig, *, snapshot: bool = True,
                 planned: int | None = None) -> None:
        self.sc = sc
        self.cfg = cfg
        self.use_snapshot = snapshot
        self.snap: Any = None
        self.m: Machine | None = None
        self.workload: Workload | None = None
        self.state = "empty"
        #: the simulator of the last schedule: its unfinished contexts end before the next restore
        self.last: Simulator | None = None
        self.boots = 0
        #: the runs the caller expects to ask for, when it knows (None otherwise)
        self.planned = planned

    def acquire(self) -> tuple[Machine, Workload]:
        """A machine as freshly booted, with the scenario's workload built on it (now *used*)."""
        if self.state == "used" and self.snap is not None:
            self.snap.restore()
            if self.last is not None and self._end_leftovers():
                # Their unwinding ran on the machine: put it back once more.
                self.snap.restore()
            assert self.m is not None and self.workload is not None
            return self.m, self.workload
        m = Machine(self.cfg)
        w = self.sc.workload(m)
        self.boots += 1
        # The second boot is snapshotted, not the first: taking a snapshot costs about two boots
        # and pays only from the run after it, so a single run pays nothing. Nor do two planned runs
        # (a calibration and one schedule, as `highmem check NAME --schedules 1`): the third, if
        # shrinking asks for one, is snapshotted instead.
        if self.use_snapshot and self.boots == (3 if self.planned == 2 else 2):
            from highmem.snapshot import Snapshot, SnapshotUnsupported

            try:
                self.snap = Snapshot([m, w, self.sc.runtime_devices])
            except SnapshotUnsupported:
                self.use_snapshot = False
        self.m, self.workload = m, w
        self.state = "used"
        return m, w

    def release(self, sim: Simulator) -> None:
        """``sim`` runs on the machine :meth:`acquire` handed out."""
        self.last = sim if self.snap is not None else None

    def _end_leftovers(self) -> bool:
        """End the greenlets of contexts the last schedule left unfinished (deadlocked, stopped).

        Left to the garbage collector, their unwinding (``finally`` blocks of
        scenario code) could run during a later schedule on the same machine.
        """
        sim, self.last = self.last, None
        if sim is None:
            return False
        left = [g for g in sim.glets.values() if g and not g.dead]
        sim.glets.clear()
        for g in left:
            with contextlib.suppress(BaseException):
                g.throw()
        return bool(left)


def run_once(sc: Scenario, cfg: KernelConfig, strategy: Strategy, *, trace: bool = False,
             booted: Booted | None = None, footprints: Any = None) -> tuple[RunResult, Any]:
    """Boot (or restore ``booted``), run one schedule, return its result (and the trace recorder when asked).

    ``footprints``: a :class:`~highmem.sim.footprint.Recorder` that collects the run's steps and
    their footprints (for DPOR)."""
    if booted is None:
        m = Machine(cfg)
        w = sc.workload(m)
    else:
        m, w = booted.acquire()
    if footprints is None:
        sim = Simulator(m, w, strategy, max_steps=sc.max_steps, python_code=sc.python)
    else:
        from highmem.sim.footprint import FootprintSimulator

        sim = FootprintSimulator(m, w, strategy, footprints, max_steps=sc.max_steps, python_code=sc.python)
    if booted is not None:
        booted.release(sim)
    rec = None
    if trace:
        rec = TraceRecorder(lambda: sim.step)
        m.subscribe(rec)
    try:
        res = sim.run()
    except HighmemError as e:
        # A divergence keeps its class: a replay of an old schedule file tells it from other errors.
        raise (ReplayDivergence if isinstance(e, ReplayDivergence) else HighmemError)(
            f"scenario {sc.name}: {e}") from None
    except Exception as e:
        from highmem.sim.engine import StepBudgetExceeded

        if isinstance(e, StepBudgetExceeded):
            raise HighmemError(f"scenario {sc.name} ({sc.source}): a context did not finish within the step budget "
                               f"of {sc.max_steps} steps; shorten its loops or raise [scenario] max_steps") from None
        raise
    return res, rec


@record
class KindReport:
    """Everything about one finding kind in one exploration."""

    kind: str
    schedules: int
    first_schedule: int
    finding: Finding
    choices: list[tuple[int, str]]
    steps: int
    shrunk: bool = False
    original_choices: int = 0


@record
class Exploration:
    """The outcome of exploring one scenario."""

    scenario: Scenario
    config: KernelConfig
    strategy: str
    seed: int
    schedules: int = 0
    steps: int = 0
    by_kind: dict[str, KindReport] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    exhausted: bool = False
    #: schedule index ranges [start, stop) that a lost worker left unexplored
    unexplored: list[tuple[int, int]] = field(default_factory=list)
    #: Statistics over all schedules: high-water marks are maxima, low-water marks minima, counts sums.
    stats: dict[str, int] = field(default_factory=dict)
    #: DPOR only: its bounds, the runs abandoned as redundant (every option asleep; not counted in
    #: ``schedules``) and the races reversed
    dpor: dict[str, int] | None = None

    @property
    def findings(self) -> list[Finding]:
        """The first (shrunk) finding of each kind, in the order kinds were first seen."""
        return [r.finding for r in self.by_kind.values()]

    def to_dict(self) -> dict[str, Any]:
        d = self._to_dict()
        if self.dpor is not None:
            d["dpor"] = dict(self.dpor)
        return d

    def _to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "source": self.scenario.source,
            "profile": self.config.profile,
            "strategy": self.strategy,
            "seed": self.seed,
            "schedules": self.schedules,
            "steps": self.steps,
            "exhausted": self.exhausted,
            "findings": [dict(r.finding.to_dict(), schedules=r.schedules, first_schedule=r.first_schedule,
                              shrunk_choices=len(r.choices)) for r in self.by_kind.values()],
            "counts": dict(sorted(self.counts.items())),
            "stats": dict(self.stats),
            "unexplored": [list(r) for r in self.unexplored],
        }

    # Presentation lives in highmem.report.notebook, imported only when a REPL or notebook displays this.
    def __repr__(self) -> str:
        from highmem.report.notebook import exploration_text

        return exploration_text(self)

    def _repr_html_(self) -> str:
        from highmem.report.notebook import exploration_html

        return exploration_html(self)


def pct_k(sc: Scenario, cfg: KernelConfig, booted: Booted | None = None) -> int:
    """PCT's estimate of the schedule length k: the steps of the default schedule.

    Fixed for the whole exploration, so that schedule i is the same whether the
    schedules run in one process or are split across many.
    """
    calib, _ = run_once(sc, cfg, DefaultStrategy(), booted=booted)
    return max(1, calib.steps)


def run_range(sc: Scenario, cfg: KernelConfig, strategy: str, seed: int, depth: int, k: int, start: int,
              stop: int, booted: Booted | None = None) -> list[tuple[int, RunResult]]:
    """Run schedules ``start..stop-1`` (random or pct) and return their results.

    ``booted``: a machine of ``sc`` on ``cfg`` kept from earlier runs (a worker's, across chunks)."""
    if booted is None:
        booted = Booted(sc, cfg)
    return [(i, run_once(sc, cfg, _strategy(strategy, seed, i, depth, k), booted=booted)[0])
            for i in range(start, stop)]


#: How each statistic folds (by name: max, min or sum), learnt at a name's first fold.
_FOLD: dict[str, str] = {}


def _fold_of(k: str) -> str:
    if k.endswith("high_water") or k == "pkmap_in_use":
        f = "max"
    elif k.endswith("low_water"):
        f = "min"
    else:
        f = "sum"
    _FOLD[k] = f
    return f


def merge_stats(into: dict[str, int], new: dict[str, int]) -> None:
    """Fold one schedule's statistics into the exploration's (max / min / sum by name)."""
    for k, v in new.items():
        old = into.get(k)
        if old is None:
            into[k] = v
            continue
        f = _FOLD.get(k) or _fold_of(k)
        if f == "sum":
            into[k] = old + v
        elif f == "max":
            if v > old:  # max(old, v)
                into[k] = v
        elif v < old:  # min(old, v)
            into[k] = v


def _strategy(name: str, seed: int, index: int, depth: int, k: int) -> Strategy:
    s = (seed * 1_000_003 + index) & 0xFFFFFFFFFFFF  # schedule_seed(seed, index), inlined
    if name == "random":
        return RandomStrategy(s)
    if name == "pct":
        return PCTStrategy(s, depth, k)
    raise HighmemError(f"strategy {name!r} does not exist: choose {', '.join(STRATEGIES)}")


def explore(sc: Scenario, cfg: KernelConfig, *, strategy: str = "random", schedules: int = 100, seed: int = 0,
            depth: int = 2, max_preemptions: int = 2, max_interrupts: int = 2, do_shrink: bool = True,
            stop_on_first: bool = False, progress: Callable[[int, int], None] | None = None,
            first_index: int = 0, runner: Any = None, snapshot: bool = True) -> Exploration:
    """Explore ``schedules`` schedules of ``sc`` on ``cfg``; see the module docstring.

    ``runner(strategy, seed, depth, k, start, stop)``, when given, runs schedules
    ``start..stop-1`` elsewhere (a process pool or a dask cluster, see
    :mod:`highmem.sim.parallel`) and yields ``(index, RunResult)`` in index order.
    ``snapshot=False`` boots a fresh machine for every schedule (the results are the same).
    """
    if strategy not in STRATEGIES:
        raise HighmemError(f"strategy {strategy!r} does not exist: choose {', '.join(STRATEGIES)}")
    if schedules < 1:
        raise HighmemError(f"--schedules {schedules} is invalid: explore at least one schedule")
    ex = Exploration(sc, cfg, strategy, seed)
    # Runs planned: the PCT calibration and the schedules, unless exhaustive or run elsewhere.
    planned = schedules + (strategy == "pct") if strategy not in ("exhaustive", "dpor") and runner is None else None
    booted = Booted(sc, cfg, snapshot=snapshot, planned=planned)
    first_results: dict[str, tuple[int, RunResult]] = {}

    def record(i: int, res: RunResult) -> None:
        ex.schedules += 1
        ex.steps += res.steps
        merge_stats(ex.stats, res.stats)
        seen = set()
        for f in res.findings:
            if f.kind in seen:
                continue
            seen.add(f.kind)
            ex.counts[f.kind] += 1
            if f.kind not in first_results:
                first_results[f.kind] = (i, res)
        if progress is not None:
            progress(ex.schedules, sum(ex.counts.values()))

    if strategy == "dpor":
        _dpor(sc, cfg, schedules, max_preemptions, max_interrupts, record, ex, stop_on_first, first_results, booted,
              runner)
    elif strategy == "exhaustive":
        _exhaustive(sc, cfg, schedules, max_preemptions, max_interrupts, record, ex, stop_on_first, first_results,
                    booted)
    elif runner is not None:
        # Parallel: the runner returns every schedule's result; recording them in index order
        # makes the exploration identical to a serial one.
        # A runner that started its chunks before this call calibrated k for them (the same run).
        k = getattr(runner, "pct_k", None)
        if k is None:
            k = pct_k(sc, cfg, booted) if strategy == "pct" else 0
        for i, res in runner(strategy, seed, depth, k, first_index, first_index + schedules):
            record(i, res)
        ex.unexplored = list(getattr(runner, "unexplored", []))
    else:
        k = pct_k(sc, cfg, booted) if strategy == "pct" else 0
        for i in range(first_index, first_index + schedules):
            res, _ = run_once(sc, cfg, _strategy(strategy, seed, i, depth, k), booted=booted)
            record(i, res)
            if stop_on_first and first_results:
                break
    for kind, (i, res) in first_results.items():
        f = next(f for f in res.findings if f.kind == kind)
        rep = KindReport(kind, ex.counts[kind], i, f, list(res.choices), res.steps, original_choices=len(res.choices))
        if do_shrink:
            choices, sres = shrink(sc, cfg, list(res.choices), kind, booted=booted)
            rep.choices = choices
            rep.finding = next(f for f in sres.findings if f.kind == kind)
            rep.steps = sres.steps
            rep.shrunk = True
        ex.by_kind[kind] = rep
    return ex


def _exhaustive(sc: Scenario, cfg: KernelConfig, limit: int, max_pre: int, max_irq: int,
                record: Callable[[int, RunResult], None], ex: Exploration, stop_on_first: bool,
                first_results: dict[str, Any], booted: Booted | None = None) -> None:
    """Enumerate schedules by increasing cost (iterative context bounding, as CHESS does).

    A schedule is a set of deviations ``{choice point: option index}`` from
    option 0.  Running one reveals the choice points after its last
    deviation; each alternative there, within the bounds, is a child
    schedule.  Children are explored cheapest first (fewest preemptions plus
    interrupts), so every schedule is run at most once and shallow bugs are
    reached before deep ones.
    """
    import heapq

    queue: list[tuple[int, int, tuple[tuple[int, int], ...], int, int]] = [(0, 0, (), 0, 0)]
    seq = 1
    i = 0
    while queue and i < limit:
        _cost_total, _s, devs, npre, nirq = heapq.heappop(queue)
        strat = PrefixStrategy(dict(devs))
        res, _ = run_once(sc, cfg, strat, booted=booted)
        record(i, res)
        i += 1
        if stop_on_first and first_results:
            return
        last = devs[-1][0] if devs else -1
        for j in range(last + 1, len(strat.points)):
            opts, at_point, _idx = strat.points[j]
            for alt in range(1, len(opts)):
                o = opts[alt]
                p = npre + (1 if at_point and o.kind == "run" else 0)
                q = nirq + (1 if o.kind in ("irq", "softirq") else 0)
                if p <= max_pre and q <= max_irq:
                    heapq.heappush(queue, (p + q, seq, devs + ((j, alt),), p, q))
                    seq += 1
    ex.exhausted = not queue


def _dpor(sc: Scenario, cfg: KernelConfig, limit: int, max_pre: int, max_irq: int,
          record: Callable[[int, RunResult], None], ex: Exploration, stop_on_first: bool,
          first_results: dict[str, Any], booted: Booted | None = None, runner: Any = None) -> None:
    """Bounded source-set DPOR (:mod:`highmem.sim.dpor`): at least one schedule of every
    equivalence class within the bounds, up to ``limit`` schedules.  ``runner.submit(handout)``
    (with ``runner.workers``), when given, explores subtrees elsewhere; the result is the same."""
    from highmem.sim.dpor import DporSearch

    def run(strat: Strategy, rec: Any) -> RunResult:
        return run_once(sc, cfg, strat, booted=booted, footprints=rec)[0]

    def rec(i: int, res: RunResult) -> bool:
        record(i, res)
        return stop_on_first and bool(first_results)

    search = DporSearch(run, max_pre, max_irq, cfg.cpus)
    if runner is None:
        search.explore(limit, rec)
    else:
        try:
            search.explore(limit, rec, submit=runner.submit, workers=runner.workers)
        finally:
            runner.close()
    ex.exhausted = search.exhausted
    ex.dpor = {"max_preemptions": max_pre, "max_interrupts": max_irq, "redundant": search.redundant,
               "races": search.races}


def _cost(res: RunResult) -> tuple[int, int, int, int]:
    return (res.injections, res.preemptions, len(res.choices), res.steps)


def shrink(sc: Scenario, cfg: KernelConfig, choices: list[tuple[int, str]], kind: str,
           budget: int = 250, booted: Booted | None = None) -> tuple[list[tuple[int, str]], RunResult]:
    """Reduce ``choices`` while a run still shows ``kind``; returns the smaller choices and their run.

    Tries, in order: the shortest prefix of the choices that still fails,
    dropping each remaining choice, then dropping one while sliding the
    later ones earlier.  A candidate is kept only when it costs less
    (interrupts injected, then preemptions, then choices, then steps).
    Every accepted candidate is re-recorded from its actual run, so the
    result replays exactly.
    """
    runs = 0

    def attempt(cand: list[tuple[int, str]]) -> RunResult | None:
        nonlocal runs
        runs += 1
        res, _ = run_once(sc, cfg, SparseReplayStrategy(cand, strict=False), booted=booted)
        return res if any(f.kind == kind for f in res.findings) else None

    best = attempt(choices)
    if best is None:
        raise HighmemError(f"scenario {sc.name}: the {kind} schedule does not reproduce; is the scenario "
                           "deterministic?")
    cur = list(best.choices)
    # Shortest failing prefix (binary search, then accept only a real improvement).
    lo, hi = 0, len(cur)
    while lo < hi and runs < budget:
        mid = (lo + hi) // 2
        r = attempt(cur[:mid])
        if r is not None and _cost(r) <= _cost(best):
            best, hi = r, mid
            cur = list(r.choices)
            hi = min(hi, len(cur))
        else:
            lo = mid + 1
    j = len(cur) - 1
    while j >= 0 and runs < budget:
        cand = cur[:j] + cur[j + 1:]
        r = attempt(cand)
        if r is not None and _cost(r) < _cost(best):
            best = r
            cur = list(r.choices)
            j = min(j, len(cur)) - 1
        else:
            j -= 1
    # Dropping a choice renumbers the choice points after it (the dropped switch had let
    # another context take steps): drop one and slide the later choices earlier.
    k = 0
    while k < len(cur) - 1 and runs < budget:
        rest = cur[:k] + cur[k + 1:]
        floor = rest[k - 1][0] + 1 if k else 0
        accepted = False
        for delta in range(1, min(rest[k][0] - floor, 64) + 1):
            if runs >= budget:
                break
            r = attempt(rest[:k] + [(p - delta, lab) for p, lab in rest[k:]])
            if r is not None and _cost(r) < _cost(best):
                best, cur, accepted = r, list(r.choices), True
                break
        if not accepted:
            k += 1
    return cur, best
