"""Run every highmem benchmark in one process and print one table.

``python bench/run.py`` (about 15 s).  Boot's peak RSS is measured in fresh
subprocesses; everything else runs here.  Exit status 1 when a target is missed.
"""

from __future__ import annotations

import platform
import sys
import time

import bench_boot
import bench_copy
import bench_kmap
import floor
import highmem


def main() -> int:
    t0 = time.perf_counter()
    rows = floor.run() + bench_kmap.run() + bench_copy.run() + bench_boot.run()
    elapsed = time.perf_counter() - t0
    title = (f"highmem {highmem.__version__} benchmarks: Python {platform.python_version()} "
             f"({platform.python_implementation()}), {platform.machine()}; min of {floor.REPEAT} repeats")
    floor.ratio_table(rows, title)
    failed = [r["benchmark"] for r in rows if r["ok"] is False]
    print(f"\n{sum(r['ok'] is True for r in rows)} passed, {len(failed)} failed, "
          f"{sum(r['ok'] is None for r in rows)} informational; {elapsed:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
