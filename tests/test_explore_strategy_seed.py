"""explore's per-schedule strategies are seeded with schedule_seed (which _strategy computes inline)."""

from __future__ import annotations

import random

import pytest

from highmem.sim.explore import _strategy, schedule_seed
from highmem.sim.strategy import PCTStrategy, RandomStrategy


@pytest.mark.parametrize("seed", [0, 1, 7, 123456789, 2**47 + 5])
@pytest.mark.parametrize("index", [0, 1, 99, 10**6])
def test_strategy_is_seeded_with_schedule_seed(seed: int, index: int) -> None:
    r = _strategy("random", seed, index, 2, 30)
    assert isinstance(r, RandomStrategy)
    assert r.rng.getstate() == random.Random(schedule_seed(seed, index)).getstate()
    p = _strategy("pct", seed, index, 3, 30)
    q = PCTStrategy(schedule_seed(seed, index), 3, 30)
    assert isinstance(p, PCTStrategy) and p.change_steps == q.change_steps
    assert p.rng.getstate() == q.rng.getstate()
