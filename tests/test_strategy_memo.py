"""A strategy's promised answer (Strategy.memo_opts), which the engine takes without the call, is the
answer the call would give: runs with and without the promise are the same, choice for choice."""

from __future__ import annotations

from typing import Any

import pytest

from highmem.scenarios import builtin_names, load_builtin
from highmem.sim.explore import run_once
from highmem.sim.strategy import PCTStrategy, Strategy


class _Counting(PCTStrategy):
    """PCT, counting the calls the engine makes (it skips those PCT promised)."""

    calls = 0

    def choose(self, opts: Any, sim: Any, at_point: bool) -> int:
        self.calls += 1
        return super().choose(opts, sim, at_point)


class _Calling(Strategy):
    """PCT behind a strategy that promises nothing: the engine calls it at every choice point."""

    def __init__(self, inner: PCTStrategy) -> None:
        self.inner = inner
        self.calls = 0

    def choose(self, opts: Any, sim: Any, at_point: bool) -> int:
        self.calls += 1
        return self.inner.choose(opts, sim, at_point)


@pytest.mark.parametrize("name", builtin_names())
def test_strategy_memo_same_run_as_the_call(name: str) -> None:
    """Under PCT, every built-in runs the same schedule whether or not the engine takes the strategy's
    promised answer instead of calling it: same steps, choice points, choices and findings."""
    sc = load_builtin(name)
    cfg = sc.config()
    k = 15_500 if name == "bounce-io" else 200
    for seed in range(3 if name != "bounce-io" else 1):
        promised = _Counting(seed, 3, k)
        a, _ = run_once(sc, cfg, promised)
        calling = _Calling(PCTStrategy(seed, 3, k))
        b, _ = run_once(sc, cfg, calling)
        assert (a.status, a.steps, a.points, a.choices) == (b.status, b.steps, b.points, b.choices)
        assert [f.to_dict() for f in a.findings] == [f.to_dict() for f in b.findings]
        assert promised.calls <= calling.calls


def test_strategy_memo_is_taken() -> None:
    """On bounce-io, the engine takes PCT's promised answer at most choice points instead of calling it."""
    sc = load_builtin("bounce-io")
    promised = _Counting(0, 2, 15_500)
    res, _ = run_once(sc, sc.config(), promised)
    assert promised.calls < res.points / 2
