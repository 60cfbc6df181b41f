"""The engine's cached options: whenever its rule takes a cached list as valid, a recomputation agrees.

The rule (Simulator._options): an entry is valid while the engine's version has not moved and every
CPU whose flags the options read still has the interrupt flag and bottom-half count it had.  Every
built-in on every profile runs under random and PCT schedules with a cache that, at every lookup
the rule accepts, compares the cached list with ``_compute_options`` of the same context.

Lists that read a spinner's condition and saw a spin lock taken since follow the former rule (they
may offer a context that spins on a lock taken meanwhile, as the engine always did); they are not
compared, and tests/test_explore_digests.py pins that their schedules did not change.
"""

from __future__ import annotations

from typing import Any

import pytest

import highmem.sim.explore as explore_mod
from highmem.errors import HighmemError
from highmem.kernel.context import Context
from highmem.profiles import PROFILE_NAMES
from highmem.scenarios import builtin_names, load_builtin
from highmem.sim.engine import Simulator
from highmem.sim.explore import run_once
from highmem.sim.strategy import PCTStrategy, RandomStrategy, Strategy


def _valid(sim: Simulator, entry: list[Any]) -> bool:
    """Whether the new rule accepts ``entry`` (the former rule's cases: False)."""
    ver, deps, _, _, acq = entry
    if ver != sim._ver or (acq is not None and acq != sim._acq):
        return False
    for i in range(0, len(deps), 3):
        st, irq_enabled, bh = deps[i:i + 3]
        if st.irq_enabled != irq_enabled or st.local_bh_count != bh:
            return False
    return True


class _CheckingCache(dict):  # type: ignore[type-arg]
    """The engine's option cache, checking every entry its rule accepts against a recomputation."""

    def __init__(self, sim: Simulator, tally: list[int]) -> None:
        super().__init__()
        self.sim = sim
        self.tally = tally

    def get(self, cur: Context | None, default: Any = None) -> Any:
        entry = super().get(cur, default)
        if entry is not None and _valid(self.sim, entry):
            fresh = Simulator._compute_options(self.sim, cur)
            assert entry[2] == fresh, (self.sim.step, cur and cur.name, entry[2], fresh)
            self.tally[0] += 1
        return entry


def _run_checked(monkeypatch: pytest.MonkeyPatch, name: str, cfg: Any, strategy: Strategy) -> int:
    tally = [0]

    class CheckedSimulator(Simulator):
        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, **k)
            self._opts_cache = _CheckingCache(self, tally)

    monkeypatch.setattr(explore_mod, "Simulator", CheckedSimulator)
    run_once(load_builtin(name), cfg, strategy)
    return tally[0]


@pytest.mark.parametrize("name", builtin_names())
def test_cached_options_equal_a_recomputation(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Under random and PCT schedules of every built-in on every profile, every cached option list the
    engine takes equals the options computed afresh at that point."""
    sc = load_builtin(name)
    hits = 0
    for profile in PROFILE_NAMES:
        try:
            cfg = sc.config(profile)
        except HighmemError:
            continue
        for seed in (0, 1):
            for strategy in (RandomStrategy(seed), PCTStrategy(seed, 3, 200)):
                try:
                    hits += _run_checked(monkeypatch, name, cfg, strategy)
                except HighmemError:
                    # The scenario does not run on this profile (a km type it lacks): nothing to check.
                    pass
    assert hits > 0
