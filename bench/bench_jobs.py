"""Parallel exploration: schedules/s with ``--jobs 2`` versus ``--jobs 1``.

The same exploration both ways: the built-in ``irq-uses-user-slot``,
strategy random, seed 0, 2,000 schedules, ``do_shrink=False``.  Serial is
``explore(sc, cfg, ...)``; parallel is the same call with
``runner=ChunkRunner(sc, cfg, process_pool(2), 2)``, as ``highmem check
--jobs 2`` builds it (a fresh fork-based pool per exploration: pool start-up
and shutdown are inside the timing, as they are for the CLI).  Both results
must be identical (schedule count, steps, finding counts).

Serial and parallel are alternated, ``REPEAT`` times each, and the fastest of
each is kept.  Target: parallel rate >= 1.7x serial on 2 cores.

Other processes on the machine take cores away from the workers, so the same
pool shape is also timed on pure Python (a busy loop split into the same
number of chunks, one fresh fork pool per run, alternated with the highmem
runs): that *machine speedup* is the most any parallel Python code could get
at that moment, and highmem's speedup divided by it is the parallel
efficiency of the exploration itself.  The 1-minute load average before the
measurement is shown too.
"""

from __future__ import annotations

import os
import time
from typing import Any

from floor import Row, ratio_table
from highmem.scenarios import load_builtin
from highmem.sim.explore import explore
from highmem.sim.parallel import ChunkRunner, process_pool

__all__ = ["run", "TARGET_SPEEDUP"]

SCENARIO = "irq-uses-user-slot"
SCHEDULES = 2000
JOBS = 2
REPEAT = 3
TARGET_SPEEDUP = 1.7


def _explore(jobs: int, schedules: int) -> tuple[float, Any]:
    sc = load_builtin(SCENARIO)
    cfg = sc.config()
    runner = ChunkRunner(sc, cfg, process_pool(jobs), jobs) if jobs > 1 else None
    t0 = time.perf_counter()
    ex = explore(sc, cfg, strategy="random", schedules=schedules, seed=0, do_shrink=False, runner=runner)
    return time.perf_counter() - t0, ex


#: Busy-loop iterations of the machine-speedup calibration (about 0.6 s serial).
BURN = 20_000_000
CHUNKS = JOBS * 4  # ChunkRunner's chunking: workers * 4 chunks


def _burn(n: int) -> int:
    s = 0
    for i in range(n):
        s += i
    return s


def _burn_run(jobs: int, total: int) -> float:
    """Seconds to run ``total`` busy-loop iterations in CHUNKS chunks, in-process or on a fresh pool."""
    chunks = [total // CHUNKS] * CHUNKS
    t0 = time.perf_counter()
    if jobs == 1:
        for n in chunks:
            _burn(n)
    else:
        with process_pool(jobs)(jobs) as ex:
            list(ex.map(_burn, chunks))
    return time.perf_counter() - t0


def measure(schedules: int = SCHEDULES, repeat: int = REPEAT, burn: int = BURN) -> dict[str, float]:
    """Best seconds of: serial and parallel exploration, serial and parallel busy loop."""
    best = dict.fromkeys(("serial", "parallel", "burn1", "burn2"), float("inf"))
    seen: dict[int, Any] = {}
    for _ in range(repeat):
        for jobs in (1, JOBS):
            dt, ex = _explore(jobs, schedules)
            best["serial" if jobs == 1 else "parallel"] = min(best["serial" if jobs == 1 else "parallel"], dt)
            seen[jobs] = (ex.schedules, ex.steps, dict(ex.counts), ex.unexplored)
            key = "burn1" if jobs == 1 else "burn2"
            best[key] = min(best[key], _burn_run(jobs, burn))
    if seen[1] != seen[JOBS]:
        raise AssertionError(f"parallel exploration differs from serial: {seen[1]} vs {seen[JOBS]}")
    return best


def run(schedules: int = SCHEDULES) -> list[Row]:
    load = os.getloadavg()[0]
    best = measure(schedules)
    speedup = best["serial"] / best["parallel"]
    machine = best["burn1"] / best["burn2"]
    busy = " (machine busy: below target itself)" if machine < TARGET_SPEEDUP else ""
    return [Row(f"--jobs {JOBS} vs --jobs 1: {SCENARIO}, random, {schedules:,} schedules",
                f"{schedules / best['parallel']:.0f} schedules/s",
                f"{schedules / best['serial']:.0f} schedules/s serial",
                f"{speedup:.2f}x", f">= {TARGET_SPEEDUP:g}x", speedup >= TARGET_SPEEDUP),
            Row(f"--jobs {JOBS}: machine speedup (busy loop, same pool) and efficiency",
                f"{machine:.2f}x machine{busy}", f"load avg {load:.2f} on {os.cpu_count()} CPUs",
                f"{speedup / machine:.0%} of machine", "(info)")]


if __name__ == "__main__":
    ratio_table(run(), f"parallel exploration (--jobs {JOBS}) vs serial")
