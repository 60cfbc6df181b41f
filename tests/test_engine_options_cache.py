"""The engine's cached options: whenever its rule takes a cached list as valid, a recomputation agrees.

The rule (Simulator._options): an entry is valid while the engine's version has not moved and every
CPU whose flags the options read still has the interrupt flag and bottom-half count it had.  Every
built-in on every profile runs under random and PCT schedules with a cache that, at every lookup
the rule accepts, compares the cached list with ``_compute_options`` of the same context.

There is no exception: a list that offered a context spinning on a lock is recomputed once the
lock is taken (before schedule-file version 2, such a list was kept until some other change came,
and offered the spinner while the lock was held).
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
    """Whether the engine's rule accepts ``entry``."""
    ver, deps, _, _ = entry
    if ver != sim._ver:
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


_CONTENDED = """
[scenario]
name = "contended"

[machine]
profile = "linux-2.4"
cpus = 3

[pages]
p = { fill = "p" }

[[task]]
name = "a"
cpu = 0
ops = [{ op = "spin_lock", lock = "L" }, { op = "work", steps = 2 }, { op = "spin_unlock", lock = "L" },
       { op = "work", steps = 3 }]

[[task]]
name = "b"
cpu = 1
ops = [{ op = "spin_lock", lock = "L" }, { op = "work", steps = 2 }, { op = "spin_unlock", lock = "L" },
       { op = "work", steps = 3 }]

[[task]]
name = "c"
cpu = 2
ops = [{ op = "spin_lock", lock = "L" }, { op = "work", steps = 2 }, { op = "spin_unlock", lock = "L" },
       { op = "work", steps = 3 }]
"""


class _NoBlockedSpinner(Strategy):
    """Random choices; at every choice point, no option runs a context whose spin condition is false."""

    def __init__(self, seed: int) -> None:
        self.inner = RandomStrategy(seed)
        self.checked = 0

    def choose(self, opts: list[Any], sim: Simulator, at_point: bool) -> int:
        for o in opts:
            spin = sim.contexts[o.name].data.get("spin") if o.kind == "run" else None
            if spin is not None:
                self.checked += 1
                assert spin[0](), f"step {sim.step}: {o.name} is offered while it spins in {spin[1]}"
        return self.inner.choose(opts, sim, at_point)


@pytest.mark.parametrize("name", ["kmap-high-ipi-deadlock-2024", "contended"])
def test_engine_spinner_not_offered_while_lock_held(name: str) -> None:
    """A context spinning on a lock is never offered to run while another context holds the lock, even
    when the lock was taken with a plain spin_lock (no flag changes) after the options were computed."""
    from highmem.scenarios.loader import load_toml_text

    sc = load_builtin(name) if name != "contended" else load_toml_text(_CONTENDED, "contended.toml")
    checked = 0
    for seed in range(200):
        strategy = _NoBlockedSpinner(seed)
        run_once(sc, sc.config(), strategy)
        checked += strategy.checked
    assert checked > 0
