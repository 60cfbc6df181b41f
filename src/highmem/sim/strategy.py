"""Strategies: who chooses at each scheduling point.

All randomness comes from a ``random.Random`` seeded by the explorer, so a
strategy, a seed and a scenario determine the schedule.

* :class:`DefaultStrategy` - always option 0: keep running the current
  context; never inject an optional interrupt unless nothing else can run.
* :class:`RandomStrategy` - a seeded random walk: uniform over the options.
* :class:`PCTStrategy` - probabilistic concurrency testing (Burckhardt et al.,
  ASPLOS 2010): random distinct priorities per entity (task or interrupt
  source), ``depth - 1`` priority-change points at random steps in
  ``[1, k]``; the highest-priority enabled option always runs.  A bug of
  depth d is found with probability at least 1/(n * k^(d-1)) per schedule.
* :class:`SparseReplayStrategy` - follows a recorded schedule (the choices
  that were not option 0); ``strict`` makes a choice that is not offered an
  error (the scenario changed); otherwise it falls back to option 0 (used
  when shrinking).
* :class:`PrefixStrategy` - option indices for a prefix of choice points,
  then option 0; records the options seen (bounded exhaustive search).
"""

from __future__ import annotations

import random

from highmem.errors import HighmemError

TYPE_CHECKING = False

if TYPE_CHECKING:
    from highmem.sim.engine import Option, Simulator

__all__ = ["Strategy", "DefaultStrategy", "RandomStrategy", "PCTStrategy", "SparseReplayStrategy", "PrefixStrategy",
           "ReplayDivergence"]


class ReplayDivergence(HighmemError):
    """A recorded schedule does not fit the run it is replayed against."""


class Strategy:
    """Base: ``choose`` returns the index of the option to take (``at_point``: a context is
    at a scheduling point and option 0 is to let it continue).

    A strategy may promise its next answer: while the engine hands it the very list
    ``memo_opts`` at a step below ``memo_until``, it would answer ``memo_choice`` and change
    nothing else, so the engine takes that answer without the call (the options of most steps
    are a cached list).
    """

    memo_opts: list[Option] | None = None
    memo_choice = 0
    memo_until: float = 0

    def choose(self, opts: list[Option], sim: Simulator, at_point: bool) -> int:
        return 0


class DefaultStrategy(Strategy):
    """Option 0 always."""


class RandomStrategy(Strategy):
    """Uniformly random choice at every choice point."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def choose(self, opts: list[Option], sim: Simulator, at_point: bool) -> int:
        return self.rng.randrange(len(opts))


class PCTStrategy(Strategy):
    """PCT with bug depth ``depth`` over an estimated ``k`` steps."""

    def __init__(self, seed: int, depth: int, k: int) -> None:
        if depth < 1:
            raise HighmemError(f"PCT depth {depth} is invalid: the bug depth d is at least 1")
        self.rng = random.Random(seed)
        self.depth = depth
        self.k = max(1, k)
        self.prio: dict[str, float] = {}
        # randint(1, k) is randrange(1, k + 1): the same draws, a frame less each.
        steps = []
        for _ in range(min(depth - 1, self.k)):
            steps.append(self.rng.randrange(1, self.k + 1))
        steps.sort()
        self.change_steps = steps
        self.changed = 0
        #: the step of the next change point (``change_steps[changed]``; past the last, no step reaches it)
        self.memo_until: float = self.change_steps[0] if self.change_steps else float("inf")
        # The last decision (Strategy's memo): with equal options (the engine often hands out the
        # very same list) and the same priorities the same option wins (no random draw is skipped:
        # every entity of a list seen before already has its priority), until the next change point.
        self.memo_opts: list[Option] | None = None
        self.memo_choice = 0

    def _priority(self, entity: str) -> float:
        p = self.prio.get(entity)
        if p is None:
            # Initial priorities lie above every change-point priority (which are < depth).
            p = self.prio[entity] = self.depth + self.rng.random()
        return p

    def choose(self, opts: list[Option], sim: Simulator, at_point: bool) -> int:
        if sim.step >= self.memo_until:
            steps = self.change_steps
            while self.changed < len(steps) and sim.step >= steps[self.changed]:
                if at_point:
                    # The running entity drops below everything at the i-th change point.
                    self.prio[opts[0].entity] = self.depth - 1 - self.changed
                self.changed += 1
                self.memo_opts = None
            self.memo_until = steps[self.changed] if self.changed < len(steps) else float("inf")
        last = self.memo_opts
        if last is not None and (opts is last or opts == last):
            self.memo_opts = opts
            return self.memo_choice
        best = 0
        best_p = -1.0
        prio = self.prio
        for i, o in enumerate(opts):
            p = prio.get(o.entity)
            if p is None:
                # _priority, inlined: a new entity's initial priority, drawn in list order.
                p = prio[o.entity] = self.depth + self.rng.random()
            if p > best_p:
                best, best_p = i, p
        self.memo_opts = opts
        self.memo_choice = best
        return best


class SparseReplayStrategy(Strategy):
    """Take the recorded label at the listed choice points and option 0 everywhere else.

    This is the form schedules are saved and shrunk in: only the choices
    that differ from "let the current context continue" are written.
    ``strict``: a listed label that is not offered is a divergence.
    """

    def __init__(self, choices: list[tuple[int, str]], strict: bool = True) -> None:
        self.choices = dict(choices)
        self.last = max(self.choices) if self.choices else -1
        self.point = 0
        self.strict = strict

    def choose(self, opts: list[Option], sim: Simulator, at_point: bool) -> int:
        n = self.point
        self.point += 1
        want = self.choices.get(n)
        if want is None:
            return 0
        for i, o in enumerate(opts):
            if o.label == want:
                return i
        if self.strict:
            avail = ", ".join(o.label for o in opts)
            raise ReplayDivergence(
                f"the schedule diverges at choice {n} (step {sim.step}): it says {want!r} but the run offers "
                f"{avail}; it was recorded against a different scenario or profile")
        return 0


class PrefixStrategy(Strategy):
    """Take option ``deviations[i]`` at choice point i when listed, else option 0; remember
    every point's options (for bounded exhaustive search)."""

    def __init__(self, deviations: dict[int, int]) -> None:
        self.deviations = deviations
        self.points: list[tuple[list[Option], bool, int]] = []

    def choose(self, opts: list[Option], sim: Simulator, at_point: bool) -> int:
        n = len(self.points)
        i = self.deviations.get(n, 0)
        if i >= len(opts):
            i = 0
        self.points.append((opts, at_point, i))
        return i
