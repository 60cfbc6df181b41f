"""Run every highmem benchmark in one process and print one table, then the scaling tables.

``python bench/run.py`` (full: about 2.5 minutes on an idle 2-core machine)
or ``python bench/run.py --quick`` (skips bench_bounce and bench_compare, the
two long explorations: about 1.5 minutes); ``--no-scaling`` also skips the
scaling tables (bench_scaling).  Peak RSS is measured in fresh
subprocesses and ``--jobs 2`` in a process pool; everything else runs here.
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable

import bench_boot
import bench_bounce
import bench_compare
import bench_copy
import bench_jobs
import bench_kmap
import bench_pct
import bench_scaling
import bench_step
import bench_user
import floor
import highmem

#: (name, run(), skipped by --quick)
BENCHES: tuple[tuple[str, Callable[[], list[floor.Row]], bool], ...] = (
    ("floor", floor.run, False),
    ("bench_kmap", bench_kmap.run, False),
    ("bench_copy", bench_copy.run, False),
    ("bench_boot", bench_boot.run, False),
    ("bench_step", bench_step.run, False),
    ("bench_pct", bench_pct.run, False),
    ("bench_user", bench_user.run, False),
    ("bench_jobs", bench_jobs.run, False),
    ("bench_bounce", bench_bounce.run, True),
    ("bench_compare", bench_compare.run, True),
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip bench_bounce and bench_compare")
    ap.add_argument("--no-scaling", action="store_true", help="skip the scaling tables (bench_scaling)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    load = os.getloadavg()[0]
    rows: list[floor.Row] = []
    took: list[str] = []
    for name, fn, long in BENCHES:
        if long and args.quick:
            took.append(f"{name} skipped (--quick)")
            continue
        t = time.perf_counter()
        rows += fn()
        took.append(f"{name} {time.perf_counter() - t:.1f} s")
    elapsed = time.perf_counter() - t0
    title = (f"highmem {highmem.__version__} benchmarks{' (--quick)' if args.quick else ''}: Python "
             f"{platform.python_version()} ({platform.python_implementation()}), {platform.machine()}, "
             f"{os.cpu_count()} CPUs, load average {load:.2f} at start; min of {floor.REPEAT} repeats")
    floor.ratio_table(rows, title)
    failed = [r["benchmark"] for r in rows if r["ok"] is False]
    print(f"\n{sum(r['ok'] is True for r in rows)} passed, {len(failed)} failed, "
          f"{sum(r['ok'] is None for r in rows)} informational; {elapsed:.1f} s")
    if not args.no_scaling:
        print()
        t = time.perf_counter()
        bench_scaling.run()
        took.append(f"bench_scaling {time.perf_counter() - t:.1f} s")
    print("time per benchmark: " + ", ".join(took) + f"; total {time.perf_counter() - t0:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
