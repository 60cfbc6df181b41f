"""``highmem compare`` of every built-in on all four profiles: wall time.

Equivalent of ``highmem compare $(highmem scenarios --names) `` with the
defaults (pct, 100 schedules, seed 0, depth 2, shrinking on):
``compare([resolve(n) for n in builtin_names()], list(PROFILE_NAMES),
strategy="pct", schedules=100)``.  Timed: loading the built-ins and every
exploration (cells that cannot run on a profile end quickly as "n/a").
Target < 60 s.  The slowest cells are shown (per-cell times come from a
wrapper around ``explore`` that :func:`highmem.sim.compare.compare` calls).
"""

from __future__ import annotations

import time
from typing import Any

import highmem.sim.compare as compare_mod
from floor import Row, ratio_table
from highmem.profiles import PROFILE_NAMES
from highmem.scenarios import builtin_names, resolve

__all__ = ["run", "TARGET_SECONDS", "measure"]

SCHEDULES = 100
TARGET_SECONDS = 60.0


def measure(schedules: int = SCHEDULES) -> tuple[float, list[Any], dict[tuple[str, str], float]]:
    """(wall seconds, cells, seconds per (scenario, profile) exploration)."""
    cell_secs: dict[tuple[str, str], float] = {}
    real = compare_mod.explore

    def timed_explore(sc: Any, cfg: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return real(sc, cfg, **kw)
        finally:
            cell_secs[(sc.name, cfg.profile)] = time.perf_counter() - t0

    compare_mod.explore = timed_explore
    try:
        t0 = time.perf_counter()
        scenarios = [resolve(n) for n in builtin_names()]
        cells = compare_mod.compare(scenarios, list(PROFILE_NAMES), strategy="pct", schedules=schedules)
        dt = time.perf_counter() - t0
    finally:
        compare_mod.explore = real
    return dt, cells, cell_secs


def run(schedules: int = SCHEDULES) -> list[Row]:
    dt, cells, cell_secs = measure(schedules)
    ok_cells = [c for c in cells if c.status == "ok"]
    steps = sum(c.steps for c in ok_cells)
    by_scenario: dict[str, float] = {}
    for (name, _prof), s in cell_secs.items():
        by_scenario[name] = by_scenario.get(name, 0.0) + s
    top = sorted(by_scenario.items(), key=lambda kv: -kv[1])[:2]
    top_text = ", ".join(f"{n} {s:.1f} s" for n, s in top)
    nscen = len({c.scenario for c in cells})
    return [
        Row(f"compare: {nscen} built-ins x {len(PROFILE_NAMES)} profiles, pct, {schedules} schedules: wall time",
            f"{dt:.1f} s", f"{len(ok_cells)} cells run, {len(cells) - len(ok_cells)} n/a", "",
            f"< {TARGET_SECONDS:g} s", dt < TARGET_SECONDS),
        Row("compare: where the time goes (slowest scenarios, all profiles)", top_text,
            f"{steps / 1e6:.1f}M steps in all", f"{sum(s for _, s in top) / dt:.0%} of the wall time", "(info)"),
    ]


if __name__ == "__main__":
    ratio_table(run(), "highmem compare: every built-in on every profile")
