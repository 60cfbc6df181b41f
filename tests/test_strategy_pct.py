"""PCT versus random walk on the designed depth-2 bug of builtin irq-uses-user-slot."""

from __future__ import annotations

import pytest

from highmem.errors import HighmemError
from highmem.scenarios import load_builtin
from highmem.sim.explore import explore
from highmem.sim.strategy import PCTStrategy


@pytest.mark.parametrize("seed", range(5))
def test_pct_finds_stale_access_within_200_schedules(seed: int) -> None:
    """PCT with depth 2 finds the IRQ's slot takeover (stale-access) within 200 schedules, for seeds 0..4."""
    sc = load_builtin("irq-uses-user-slot")
    ex = explore(sc, sc.config(), strategy="pct", schedules=200, seed=seed, depth=2, do_shrink=False,
                 stop_on_first=True)
    assert "stale-access" in ex.counts
    assert ex.schedules <= 200


def test_pct_random_walk_misses_it() -> None:
    """The uniform random walk injects the IRQ long before the 4-step window: 100 schedules find nothing."""
    sc = load_builtin("irq-uses-user-slot")
    ex = explore(sc, sc.config(), strategy="random", schedules=100, seed=0, do_shrink=False)
    assert ex.schedules == 100
    assert dict(ex.counts) == {} and ex.findings == []


def test_pct_depth_one_never_finds_depth_two_bug() -> None:
    """Without a priority change point (depth 1) the IRQ runs first or last, never inside the window."""
    sc = load_builtin("irq-uses-user-slot")
    ex = explore(sc, sc.config(), strategy="pct", schedules=60, seed=0, depth=1, do_shrink=False)
    assert dict(ex.counts) == {}


def test_pct_depth_zero_is_refused() -> None:
    """A PCT depth below 1 is a user error with a one-sentence message."""
    with pytest.raises(HighmemError, match=r"^PCT depth 0 is invalid: the bug depth d is at least 1$"):
        PCTStrategy(0, 0, 10)
