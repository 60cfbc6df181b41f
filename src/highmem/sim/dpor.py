"""Partial-order reduction: one schedule per equivalence class of the model's dependency relation.

Two schedules are *equivalent* when one becomes the other by swapping adjacent independent
steps (Mazurkiewicz traces): they reach the same state, and the checker, which judges each step
against state that step's footprint covers, finds the same kinds.  Plain exhaustive search runs
every schedule; this runs at least one of every equivalence class, and usually about one.

The algorithm is source-set DPOR with sleep sets (Abdulla, Aronis, Jonsson, Sagonas, "Optimal
dynamic partial order reduction", POPL 2014, Algorithm 1), stateless: each schedule is replayed
from a freshly restored machine.  After a run, every *race* (two dependent steps of different
contexts with nothing ordering them in between) is reversed at the choice point before the first:
some *initial* of the steps that would have to run first is added to that point's backtrack set,
unless one already is there or asleep.  When none of them is offered at that point (an engine
rule made it unavailable), every option there is added (the fallback of Flanagan and Godefroid,
POPL 2005).  A choice point's sleep set holds the options already explored from an equivalent
state; a run that reaches a point where every option sleeps is *redundant*: it is abandoned there
(its steps so far are analysed) and not counted as a schedule.

Bounds (see :func:`highmem.sim.footprint.step_cost`): at most ``max_preemptions`` preemptions of
a task by another task of its CPU and at most ``max_interrupts`` optional interrupt arrivals on a
busy CPU.  Both are the same for every schedule of an equivalence class, so the bounded search
still covers every class within the bounds.  Switches between CPUs are not bounded: DPOR runs
every order of their dependent steps.

States of one exploration: *running* (a stack of choice points of the last schedule, some with
options left to explore), then *exhausted* (no option left: every equivalence class within the
bounds was run) or *cut* (the schedule limit came first).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from highmem.errors import SimulatorError
from highmem.sim.footprint import (
    _DEV,
    _LIVE,
    _SYNC,
    Footprint,
    Recorder,
    Step,
    dependent,
    option_key,
    optional_arrival,
    source_of,
    step_cost,
)
from highmem.sim.strategy import Strategy

if TYPE_CHECKING:
    from highmem.sim.engine import Option, Simulator

__all__ = ["DporSearch", "Node", "DporStrategy", "Redundant", "RunRecord", "Handout"]

Key = tuple[Any, ...]


def _process(st: Step) -> tuple[str, int]:
    """The context a step belongs to: (name, CPU); an arrival belongs to the handler it starts."""
    k = st.key
    if k[0] == "run":
        return (k[1], st.cpu)
    return (f"{k[1]}#{k[3]}", st.cpu)


class RunRecord(NamedTuple):
    """One run of a subtree, as its explorer hands it back: the result (None: redundant, abandoned),
    the intents about choice points above the subtree, the races it reversed, the footprint of the
    step taken at the subtree's root (its first run only) and whether the subtree has more to run."""

    result: Any
    intents: list[tuple[Any, ...]]
    races: int
    root_fp: Footprint | None
    pending: bool


class Handout(NamedTuple):
    """A subtree to explore elsewhere: the choice points from the root to its own, and what to take there."""

    prefix: list[Node]
    depth: int
    key: Key
    bounds: tuple[int, int]
    ncpus: int
    #: the most schedules to run in the subtree (the exploration's limit)
    limit: int

    def explore(self, run: Callable[[Strategy, Recorder], Any]) -> list[RunRecord]:
        """Explore this subtree, running schedules with ``run``: its records in the serial order."""
        s = DporSearch(run, self.bounds[0], self.bounds[1], self.ncpus)
        s.stack = [n.copy() for n in self.prefix]
        s.outer = self.depth
        return list(s.subtree(self.depth, self.key, self.limit))


class Redundant(BaseException):
    """Raised by :class:`DporStrategy` where every option sleeps: the rest of the run would
    only repeat classes already explored, so it is abandoned (a BaseException, so that the engine
    passes it through as it passes a context's unwinding)."""


class Node:
    """A choice point of the current schedule: its options (as keys), what each costs, what was
    taken, what is left to explore (``backtrack``), what was explored (``done``: key -> footprint of
    the step it took) and what is asleep (key -> footprint)."""

    __slots__ = ("keys", "costs", "base", "chosen", "backtrack", "done", "sleep", "arrivals")

    def __init__(self, keys: list[Key], costs: list[tuple[int, int]], base: tuple[int, int],
                 sleep: dict[Key, Footprint]) -> None:
        self.keys = keys
        self.costs = costs
        self.base = base
        self.chosen: Key | None = None
        self.backtrack: list[Key] = []
        self.done: dict[Key, Footprint] = {}
        self.sleep = sleep
        #: (option index, CPU, device line?) of each optional arrival offered and not taken
        self.arrivals: list[tuple[int, int, bool]] = []

    def copy(self) -> Node:
        """This point as a handout carries it: its own lists and dicts."""
        n = Node(list(self.keys), list(self.costs), self.base, dict(self.sleep))
        n.chosen = self.chosen
        n.backtrack = list(self.backtrack)
        n.done = dict(self.done)
        n.arrivals = list(self.arrivals)
        return n

    def within(self, i: int, bounds: tuple[int, int]) -> bool:
        """Whether taking option ``i`` here stays within ``bounds``."""
        c = self.costs[i]
        return self.base[0] + c[0] <= bounds[0] and self.base[1] + c[1] <= bounds[1]

    def add(self, key: Key) -> None:
        if key not in self.backtrack:
            self.backtrack.append(key)


class DporStrategy(Strategy):
    """Replays the choice points ``stack[:depth]``, takes ``key`` at ``stack[depth]``, then
    continues with the first option that is awake and within the bounds (option 0 when it is)."""

    def __init__(self, search: DporSearch, rec: Recorder, depth: int, key: Key | None) -> None:
        self.search = search
        self.rec = rec
        self.depth = depth
        self.key = key
        self.n = 0
        #: sleep set carried along the steps since the last choice point
        self.carry: dict[Key, Footprint] = {}
        #: the step index from which the run is out of bounds (None: analysed to the end)
        self.stop_at: int | None = None

    def step_closed(self, st: Step) -> None:
        """Recorder callback: a step ended; the sleep set loses what it depends on."""
        if self.carry:
            fp = st.fp
            self.carry = {q: f for q, f in self.carry.items() if not dependent(f, fp)}
        if st.node is not None and st.node >= self.depth:
            node = self.search.stack[st.node]
            node.done.setdefault(st.key, st.fp)

    def choose(self, opts: list[Option], sim: Simulator, at_point: bool) -> int:
        n = self.n
        self.n += 1
        stack = self.search.stack
        if self.stop_at is not None:
            return 0
        if n <= self.depth:
            node = stack[n]
            want = self.key if n == self.depth else node.chosen
            i = node.keys.index(want)  # type: ignore[arg-type]
            # The replayed prefix must offer what it offered: the same options, the same one at i.
            if len(opts) != len(node.keys) or option_key(sim, opts[i]) != want:
                raise SimulatorError(f"the scenario is not deterministic: choice point {n} offers "
                                     f"{[option_key(sim, o) for o in opts]} on replay, {node.keys} before")
            if n == self.depth:
                node.chosen = want
                node.add(want)  # type: ignore[arg-type]
                self.carry = dict(node.sleep)
                self.carry.update((k, f) for k, f in node.done.items() if k != want)
            self.rec.pending_node = n
            return i
        keys = [option_key(sim, o) for o in opts]
        if self.rec.over_at is not None:
            self.stop_at = self.rec.over_at
            return 0
        bounds = self.search.bounds
        costs = [step_cost(sim, o) for o in opts]
        node = Node(keys, costs, self.rec.cost, dict(self.carry))
        pick = next((i for i, k in enumerate(keys) if k not in node.sleep and node.within(i, bounds)), None)
        if pick is None:
            if any(node.within(i, bounds) for i in range(len(keys))):
                # Every way on within the bounds sleeps: each was explored from an equivalent state,
                # in a run that holds this one's steps too.
                raise Redundant()
            # No way on stays within the bounds: this is a whole schedule of the bounded space. The
            # run goes on as plain search would (what follows is real too), unanalysed from here.
            self.stop_at = len(self.rec.steps)
            return 0
        node.chosen = keys[pick]
        node.add(keys[pick])
        # Which runnable task an idle CPU takes is a choice no race brings back (every step of the
        # CPU orders the next task's first step after the last one's): each is an alternative.
        idle: dict[int, list[int]] = {}
        for i, o in enumerate(opts):
            if o.kind == "run" and not sim.m.cpu_state[o.cpu].stack:
                idle.setdefault(o.cpu, []).append(i)
        for group in idle.values():
            if len(group) > 1:
                for i in group:
                    if keys[i] not in node.sleep and node.within(i, bounds):
                        node.add(keys[i])
        node.arrivals = [(i, o.cpu, source_of(sim, o).ready is not None) for i, o in enumerate(opts)
                         if i != pick and optional_arrival(sim, o)]
        stack.append(node)
        self.rec.pending_node = n
        return pick


class DporSearch:
    """One bounded DPOR exploration; ``run(strategy, recorder)`` runs one schedule and returns its result."""

    def __init__(self, run: Callable[[Strategy, Recorder], Any], max_preemptions: int, max_interrupts: int,
                 ncpus: int) -> None:
        self._run = run
        self.bounds = (max_preemptions, max_interrupts)
        self.ncpus = ncpus
        self.stack: list[Node] = []
        #: choice points up to this index belong to whoever handed this search its subtree
        self.outer = -1
        self._intents: list[tuple[Any, ...]] = []
        self._limit = 0
        self.schedules = 0
        self.redundant = 0
        self.races = 0
        self.exhausted = False

    def explore(self, limit: int, record: Callable[[int, Any], bool],
                submit: Callable[[Handout], Any] | None = None, workers: int = 1) -> None:
        """Run schedules until every class within the bounds is covered or ``limit`` ran;
        ``record(i, result)`` returns True to stop early.

        ``submit(handout)``, when given, explores a subtree elsewhere and returns a future of its
        :class:`RunRecord` list (see :meth:`subtree`); ``workers - 1`` such subtrees are kept
        running (this process is the other worker: it explores the subtree needed next).
        Subtrees are consumed in the order the serial search would explore them, and every
        decision a subtree makes about a choice point above its root is taken here, when it is
        consumed: the exploration is the serial one, schedule for schedule.
        """
        if submit is None:
            for r in self.subtree(-1, None, limit):
                if self._consume(r, record, limit):
                    return
            self.exhausted = True
            return
        self._limit = limit
        first = next(self.subtree(-1, None, 1, descend=False))
        if self._consume(first, record, limit):
            return
        flight: dict[tuple[Key, ...], Any] = {}
        try:
            while True:
                nxt = self._next()
                if nxt is None:
                    self.exhausted = True
                    return
                d, b = nxt
                p = self._path(d, b)
                # The subtree needed now is explored here unless a worker already has it; the
                # workers take the next ones, which are needed later.
                self._speculate(submit, max(1, workers - 1), flight, skip=p)
                if p in flight:
                    recs = self._collect(flight.pop(p), d, b, limit)
                else:
                    recs = Handout([n.copy() for n in self.stack[:d + 1]], d, b, self.bounds, self.ncpus,
                                   limit).explore(self._run)
                node = self.stack[d]
                node.chosen = b
                if recs and recs[0].root_fp is not None:
                    node.done.setdefault(b, recs[0].root_fp)
                for r in recs:
                    if self._consume(r, record, limit):
                        return
        finally:
            for f in flight.values():
                f.cancel()

    def _path(self, d: int, key: Key) -> tuple[Key, ...]:
        return tuple(n.chosen for n in self.stack[:d]) + (key,)  # type: ignore[return-value]

    def _speculate(self, submit: Callable[[Handout], Any], workers: int, flight: dict[tuple[Key, ...], Any],
                   skip: tuple[Key, ...] = ()) -> None:
        """Keep ``workers`` subtrees running: the next option of each choice point, shallowest first
        (the largest subtrees, needed last, while this process explores the deep ones), but
        ``skip`` (explored here).  Each one's inputs are final: a point's sleep set never changes,
        and nothing else is explored there before its next option."""
        live = {self._path(d, k) for d, k in self._pending()}
        for p in [p for p in flight if p not in live]:
            flight.pop(p).cancel()
        running = sum(not f.done() for f in flight.values())
        for d, k in reversed(self._pending()):
            if running >= workers:
                break
            p = self._path(d, k)
            if p not in flight and p != skip:
                flight[p] = submit(Handout([n.copy() for n in self.stack[:d + 1]], d, k, self.bounds, self.ncpus,
                                           self._limit))
                running += 1

    def _pending(self) -> list[tuple[int, Key]]:
        """The next option of every choice point that has one, deepest first."""
        out = []
        for d in range(len(self.stack) - 1, -1, -1):
            node = self.stack[d]
            k = next((k for k in node.backtrack if k not in node.done and k not in node.sleep), None)
            if k is not None:
                out.append((d, k))
        return out

    def _collect(self, fut: Any, d: int, b: Key, limit: int) -> list[RunRecord]:
        """A subtree's records; when its worker was lost, the subtree explored here (the same records)."""
        try:
            return list(fut.result())
        except Exception:  # a lost worker, a broken pool: the subtree is deterministic, so run it here
            h = Handout([n.copy() for n in self.stack[:d + 1]], d, b, self.bounds, self.ncpus, limit)
            return h.explore(self._run)

    def _consume(self, r: RunRecord, record: Callable[[int, Any], bool], limit: int) -> bool:
        """Account one run, in the serial order; True when the exploration ends with it."""
        for intent in r.intents:
            self.apply(intent)
        self.races += r.races
        if r.result is None:
            self.redundant += 1
            return False
        i = self.schedules
        self.schedules += 1
        if record(i, r.result):
            return True
        if self.schedules >= limit:
            self.exhausted = not r.pending and not self._pending()
            return True
        return False

    def subtree(self, depth: int, key: Key | None, limit: int, descend: bool = True) -> Iterator[RunRecord]:
        """Explore the subtree of taking ``key`` at choice point ``depth`` (the whole tree from -1), up
        to ``limit`` schedules, yielding one :class:`RunRecord` per run in the serial order.
        Decisions about points at or above ``self.outer`` become the records' intents.
        ``descend=False``: the first run only."""
        made = 0
        while True:
            rec = Recorder(bounds=self.bounds)
            strat = DporStrategy(self, rec, depth, key)
            rec.on_close = strat.step_closed
            del self.stack[depth + 1:]
            try:
                res = self._run(strat, rec)
            except Redundant:
                res = None
            start = next((j for j, s in enumerate(rec.steps) if s.node == depth), 0) if depth >= 0 else 0
            root_fp = rec.steps[start].fp if depth >= 0 and rec.steps and rec.steps[start].node == depth else None
            stop = strat.stop_at if strat.stop_at is not None else len(rec.steps)
            if rec.over_at is not None:
                stop = min(stop, rec.over_at)
            races = self.races
            # A redundant run's steps are a real prefix: its races are reversed as any run's.
            self._races(rec.steps, start, stop)
            if res is not None and res.status == "stopped" and rec.steps and len(rec.steps) - 1 < stop:
                # A BUG, an Oops or an exception ended the run: its last step disabled every other
                # context, whose next steps therefore never ran to race with it. Each one offered
                # before that step is an alternative there.
                at = next((st.node for st in reversed(rec.steps) if st.node is not None), None)
                if at is not None:
                    self._decide(("all", at))
            races, self.races = self.races - races, races  # counted when the record is consumed
            intents, self._intents = self._intents, []
            made += res is not None
            nxt = self._next(self.outer) if descend else None
            yield RunRecord(res, intents, races, root_fp, nxt is not None)
            if nxt is None or made >= limit:
                return
            depth, key = nxt

    def _next(self, floor: int = -1) -> tuple[int, Key] | None:
        """The deepest choice point below ``floor`` with an option left to explore, and that option
        (the points passed on the way, with nothing left, are dropped)."""
        stack = self.stack
        while len(stack) - 1 > floor:
            d = len(stack) - 1
            node = stack[d]
            for k in node.backtrack:
                if k not in node.done and k not in node.sleep:
                    return d, k
            stack.pop()
        return None

    def _races(self, steps: list[Step], start: int, stop: int) -> None:
        """Vector clocks over the run's steps (one component per CPU); each race whose later step
        lies in ``[start, stop)`` is reversed at the choice point before its earlier step."""
        ncpu = self.ncpus
        last_write: dict[Any, int] = {}
        reads: dict[Any, list[int]] = {}
        vc: list[list[int]] = []
        pos: list[int] = []
        count = [0] * ncpu
        zero = [0] * ncpu
        for j, s in enumerate(steps):
            if j >= stop:
                break
            preds: set[int] = set()
            # A footprint names each resource once, so each can be looked up and then updated.
            for r, w in s.fp.items():
                lw = last_write.get(r)
                if lw is not None:
                    preds.add(lw)
                if w:
                    last_write[r] = j
                    rs = reads.pop(r, None)
                    if rs:
                        preds.update(rs)
                else:
                    rs = reads.get(r)
                    if rs is None:
                        reads[r] = [j]
                    else:
                        rs.append(j)
            if not preds:
                clock = list(zero)
            elif len(preds) == 1:
                clock = list(vc[next(iter(preds))])
            else:
                clock = list(map(max, *[vc[i] for i in preds]))
            count[s.cpu] += 1
            clock[s.cpu] = count[s.cpu]
            pos.append(count[s.cpu])
            vc.append(clock)
            if j < start:
                continue
            pj = _process(s)
            for i in sorted(preds):
                ei = steps[i]
                if ei.node is None or _process(ei) == pj:
                    continue
                ci, pi = ei.cpu, pos[i]
                if any(k != i and vc[k][ci] >= pi for k in preds):
                    continue  # ordered through another step
                self.races += 1
                self._reverse(steps, vc, pos, i, j)
        for j in range(start, min(stop, len(vc))):
            n = steps[j].node
            if n is not None and self.stack[n].arrivals:
                self._arrivals(steps, vc, pos, j, min(stop, len(vc)))

    def _arrivals(self, steps: list[Step], vc: list[list[int]], pos: list[int], j: int, stop: int) -> None:
        """An optional arrival offered before step e_j and not taken may never happen, so no race
        brings it back: it races with e_j when it would not commute with it (e_j is a step of its
        CPU, a task's exit, which may end optional arrivals, or for a device line a change of what
        it waits for), and is added before e_j as a reversed race's initial is: unless an initial of
        the steps after e_j that do not depend on it is already explored or asleep there."""
        st = steps[j]
        n: int = st.node  # type: ignore[assignment]
        node = self.stack[n]
        fp = st.fp
        exits = any(w and type(r) is tuple and r[0] == _LIVE[0] for r, w in fp.items())
        initials: list[Key] | None = None
        for x, cpu, device in node.arrivals:
            if not (cpu == st.cpu or exits or device and (fp.get(_SYNC) is True or fp.get(_DEV) is True)):
                continue
            if initials is None:
                cj, pj = st.cpu, pos[j]
                v = [m for m in range(j + 1, stop) if vc[m][cj] < pj]
                initials = [steps[m].key for y, m in enumerate(v)
                            if not any(vc[m][steps[q].cpu] >= pos[q] for q in v[:y])]
            self._decide(("arrival", n, x, initials))

    def _reverse(self, steps: list[Step], vc: list[list[int]], pos: list[int], i: int, j: int) -> None:
        ei = steps[i]
        ci, pi = ei.cpu, pos[i]
        # v: the steps after e_i that do not depend on it, then e_j; its initials are the steps of v
        # that nothing earlier in v precedes.
        v = [k for k in range(i + 1, j) if vc[k][ci] < pi] + [j]
        initials: list[Key] = []
        for x, k in enumerate(v):
            sk = steps[k]
            if not any(vc[k][steps[m].cpu] >= pos[m] for m in v[:x]):
                if sk.key not in initials:
                    initials.append(sk.key)
        self._decide(("race", ei.node, initials))

    def _decide(self, intent: tuple[Any, ...]) -> None:
        """Act on a reversed race (``("race", node, initials)``), an arrival to try (``("arrival",
        node, option, initials)``) or every option (``("all", node)``) at a choice point: at once
        when the point is this search's, as an intent for whoever owns it when it lies at or above
        the root of the subtree explored here."""
        if intent[1] <= self.outer:
            self._intents.append(intent)
        else:
            self.apply(intent)

    def apply(self, intent: tuple[Any, ...]) -> None:
        """Carry out one intent (see :meth:`_decide`) on this search's choice points."""
        node = self.stack[intent[1]]
        bounds = self.bounds
        if intent[0] == "all":
            for x, q in enumerate(node.keys):
                if q not in node.sleep and node.within(x, bounds):
                    node.add(q)
            return
        if intent[0] == "arrival":
            _, _, x, initials = intent
            k = node.keys[x]
            if k in node.backtrack or k in node.sleep or not node.within(x, bounds):
                return
            if any(q in node.backtrack or q in node.sleep for q in initials):
                return
            node.add(k)
            return
        initials = intent[2]
        if any(q in node.backtrack or q in node.sleep for q in initials):
            return
        for q in initials:
            if q in node.keys:
                x = node.keys.index(q)
                if node.within(x, bounds):
                    node.add(q)
                return
        for x, q in enumerate(node.keys):
            if q not in node.sleep and node.within(x, bounds):
                node.add(q)
