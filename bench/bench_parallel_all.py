"""The whole built-in set in parallel: ``highmem check -q`` with 2 workers against 1, as a user runs it.

Two comparisons, each alternated ``REPEAT`` times in one run, the fastest of each kept:

* ``--jobs 2`` against ``--jobs 1`` (a local fork pool; target >= 1.7x on 2 cores);
* ``--executor dask`` on a ``distributed.LocalCluster`` of 2 single-threaded worker processes
  against one of 1 worker (target >= 1.6x).  The cluster is started before the timing (a
  user's cluster is already running); the client's connection and the handshake are inside it.

Every figure is the *wall* time of the whole child process (start-up, every built-in's 100 PCT
schedules, the table): what a user waits for.  Wall time depends on what else the machine runs,
so the 1-minute load average is printed before and after each comparison; with a load above
about 0.5 on 2 cores the speed-up is not the exploration's own.  Each parallel run's output must
equal the serial run's, byte for byte.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from typing import Any

from floor import Row, ratio_table

__all__ = ["run", "TARGET_JOBS", "TARGET_DASK"]

REPEAT = 2
TARGET_JOBS = 1.7
TARGET_DASK = 1.6
_CLI = [sys.executable, "-c", "import sys; from highmem.cli import main; sys.exit(main())", "check", "-q"]


def _wall(extra: list[str]) -> tuple[float, bytes]:
    t = time.perf_counter()
    r = subprocess.run(_CLI + extra, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t, r.stdout


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def _pair(one: list[str], two: list[str]) -> tuple[float, float, bool, str]:
    load0 = _load()
    best1 = best2 = float("inf")
    same = True
    for _ in range(REPEAT):
        t1, out1 = _wall(one)
        t2, out2 = _wall(two)
        best1, best2 = min(best1, t1), min(best2, t2)
        same = same and out1 == out2
    return best1, best2, same, f"load {load0} -> {_load()}"


def _dask(workers: int) -> Any:
    from distributed import LocalCluster

    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                        silence_logs=logging.ERROR)


def run() -> list[Row]:
    """Rows for ratio_table: --jobs 2 vs 1, and Dask 2 workers vs 1 (when distributed is installed)."""
    rows = []
    s, p, same, load = _pair([], ["--jobs", "2"])
    rows.append(Row("`highmem check -q`: --jobs 2 vs --jobs 1 (wall)", f"{s:.2f} s -> {p:.2f} s",
                    f"{load}; output {'identical' if same else 'DIFFERS'}", f"{s / p:.2f}x", f">= {TARGET_JOBS}x",
                    s / p >= TARGET_JOBS and same))
    try:
        import distributed  # noqa: F401
    except ImportError:
        rows.append(Row("`highmem check -q`: Dask 2 workers vs 1", "no dask.distributed", "", "", "(info)"))
        return rows
    c1, c2 = _dask(1), _dask(2)
    try:
        d1, d2, same, load = _pair(["--executor", "dask", "--scheduler", c1.scheduler_address],
                                   ["--executor", "dask", "--scheduler", c2.scheduler_address])
    finally:
        c1.close()
        c2.close()
    rows.append(Row("`highmem check -q`: Dask LocalCluster 2 workers vs 1 (wall)", f"{d1:.2f} s -> {d2:.2f} s",
                    f"{load}; output {'identical' if same else 'DIFFERS'}", f"{d1 / d2:.2f}x", f">= {TARGET_DASK}x",
                    d1 / d2 >= TARGET_DASK and same))
    return rows


if __name__ == "__main__":
    ratio_table(run(), "the whole built-in set, 2 workers against 1 (wall time, one run)")
