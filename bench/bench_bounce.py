"""A ``bounce-io`` exploration: 100 PCT schedules of 1,000 bounced I/Os each.

Equivalent of ``highmem check bounce-io --schedules 100 --strategy pct``
(seed 0, depth 2, shrinking on; the scenario is clean, so nothing is
shrunk): ``explore(load_builtin("bounce-io"), cfg, strategy="pct",
schedules=100)``.  The wall time covers loading the built-in, PCT's
calibration run (``pct_k``) and the 100 schedules, each booting a fresh
machine; it does not cover the CLI's import and table printing.

Rows: wall time (target < 10 s); schedules/s and the cost per simulated step
relative to the floor (the floor timed just before and just after the
exploration, minimum kept) as information.
"""

from __future__ import annotations

import time

from floor import FLOOR_STMT, Row, _timer, floor_globals, fmt_ns, ratio_table
from highmem.scenarios import load_builtin
from highmem.sim.explore import explore

__all__ = ["run", "explore_bounce", "TARGET_SECONDS"]

SCENARIO = "bounce-io"
SCHEDULES = 100
TARGET_SECONDS = 10.0
FLOOR_NUMBER = 200_000


def explore_bounce(schedules: int = SCHEDULES) -> tuple[float, int, int, dict[str, int]]:
    """(wall seconds, schedules, simulated steps, finding counts)."""
    t0 = time.perf_counter()
    sc = load_builtin(SCENARIO)
    ex = explore(sc, sc.config(), strategy="pct", schedules=schedules, seed=0, depth=2)
    dt = time.perf_counter() - t0
    if ex.stats.get("bounce_pages_used", 0) != 1000 * ex.schedules:
        raise AssertionError(f"bounce-io: expected 1,000 bounced I/Os per schedule, got {ex.stats}")
    return dt, ex.schedules, ex.steps, dict(ex.counts)


def floor_ns() -> float:
    t = _timer(FLOOR_STMT, floor_globals())
    t.timeit(FLOOR_NUMBER // 20)
    return min(t.repeat(3, FLOOR_NUMBER)) / FLOOR_NUMBER * 1e9


def run(schedules: int = SCHEDULES) -> list[Row]:
    fl = floor_ns()
    dt, n, steps, counts = explore_bounce(schedules)
    fl = min(fl, floor_ns())
    per_step = dt / steps * 1e9
    found = ", ".join(f"{k} in {v}" for k, v in sorted(counts.items())) or "clean"
    return [
        Row(f"{SCENARIO}: {n} PCT schedules x 1,000 I/Os ({found}): wall time", f"{dt:.2f} s",
            f"{steps / n:,.0f} steps/schedule", "", f"< {TARGET_SECONDS:g} s", dt < TARGET_SECONDS),
        Row(f"{SCENARIO}: exploration rate", f"{n / dt:.1f} schedules/s ({steps / dt / 1e3:,.0f}k steps/s)",
            target="(info)"),
        Row(f"{SCENARIO}: wall time per simulated step (boot included)", fmt_ns(per_step),
            fmt_ns(fl) + " floor", f"{per_step / fl:.1f}x", "(info)"),
    ]


if __name__ == "__main__":
    ratio_table(run(), f"{SCENARIO}: {SCHEDULES} PCT schedules through explore()")
