"""Where the wall time of a parallel ``highmem check -q`` goes: a timeline of its chunks.

``python bench/prof_parallel.py [--jobs N | --dask N] [-v]`` runs ``highmem check -q`` (every
built-in, 100 PCT schedules each) in this process with ``run_chunk`` wrapped so that every chunk
reports when it ran, on which worker and its CPU time, and prints:

* the parent: wall and CPU until the first chunk started (start-up, loading, calibration), and
  in all;
* each worker: busy wall and CPU, first start, last end, and the time it sat idle between its
  first chunk and the end of the last chunk of the run;
* the tail: from the second-to-last chunk's end to the last one's, and from there to the end.

``-v`` lists every chunk.  Not part of run.py: it explains a figure of bench_parallel_all.py,
it does not measure one (wall times move with the machine's load, which is printed).  With
``--dask N`` a ``LocalCluster`` of N single-threaded workers is started first (not timed), as
bench_parallel_all.py does.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import time
from collections import defaultdict
from typing import Any

import highmem.sim.parallel as parallel
from highmem.cli import main

__all__ = ["timeline"]

_ORIG = parallel.run_chunk
#: (worker pid, start, end, source, cpu seconds, first index, stop index) of every chunk
_LOG: list[tuple[int, float, float, str, float, int, int]] = []


def _timed_chunk(source: str, digest: str, cfg: Any, strategy: str, seed: int, depth: int, k: int,
                 start: int, stop: int) -> tuple[Any, ...]:
    c0, t0 = time.process_time(), time.time()
    res = _ORIG(source, digest, cfg, strategy, seed, depth, k, start, stop)
    return ("timed", os.getpid(), t0, time.time(), source, time.process_time() - c0, start, stop, res)


def _install() -> None:
    parallel.run_chunk = _timed_chunk  # type: ignore[assignment]
    collect = parallel.ChunkRunner._collect

    def unwrap(self: Any, ex: Any, futs: Any, own: bool) -> Any:
        done, failed = collect(self, ex, futs, own)
        timed: dict[Any, Any] = done  # each value is what _timed_chunk returned
        for rng, v in list(timed.items()):
            _LOG.append(v[1:8])
            timed[rng] = v[8]
        return done, failed

    parallel.ChunkRunner._collect = unwrap  # type: ignore[method-assign]


def timeline(argv: list[str], verbose: bool = False) -> None:
    """Run ``highmem check -q ARGV`` and print where its wall time went."""
    _install()
    load0 = os.getloadavg()[0]
    c0, t0 = time.process_time(), time.time()
    # The table itself is not the point.
    with contextlib.redirect_stdout(io.StringIO()):
        main(["check", "-q", *argv])
    c1, t1 = time.process_time(), time.time()
    if not _LOG:
        print("no chunk ran (serial run?)")
        return
    first = min(a for _, a, *_ in _LOG)
    ends = sorted(b for _, _, b, *_ in _LOG)
    print(f"load {load0:.2f} -> {os.getloadavg()[0]:.2f}; {len(_LOG)} chunks")
    print(f"parent: first chunk started at {first - t0:.3f} s; in all {t1 - t0:.3f} s wall, {c1 - c0:.3f} s CPU")
    per: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0, float("inf"), 0.0])
    for pid, a, b, _src, cpu, _s, _e in _LOG:
        x = per[pid]
        x[0] += b - a
        x[1] += cpu
        x[2] = min(x[2], a)
        x[3] = max(x[3], b)
    for pid, (busy, cpu, a, b) in sorted(per.items()):
        print(f"worker {pid}: busy {busy:.3f} s wall, {cpu:.3f} s CPU; from {a - t0:.3f} to {b - t0:.3f} s; "
              f"idle {ends[-1] - a - busy:.3f} s before the last chunk's end")
    tail2 = ends[-1] - ends[-2] if len(ends) > 1 else 0.0
    print(f"tail: last chunk ended {tail2:.3f} s after the second-to-last, the command {t1 - ends[-1]:.3f} s "
          "after that")
    if verbose:
        for pid, a, b, src, cpu, s, e in sorted(_LOG, key=lambda x: x[1]):
            print(f"  {pid} {a - t0:7.3f} {b - t0:7.3f} cpu {cpu:6.3f} {src} {s}..{e - 1}")


def _main(args: list[str]) -> None:
    verbose = "-v" in args
    args = [a for a in args if a != "-v"]
    if args[:1] == ["--dask"]:
        from distributed import LocalCluster

        n = int(args[1]) if len(args) > 1 else 2
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                          silence_logs=logging.ERROR) as cluster:
            timeline(["--executor", "dask", "--scheduler", cluster.scheduler_address], verbose)
        return
    timeline(args or ["--jobs", "2"], verbose)


if __name__ == "__main__":
    _main(sys.argv[1:])
