"""DPOR against plain bounded exhaustive search: schedules (and CPU) to cover a scenario.

For each built-in (bounce-io excluded: 15,750 steps a schedule), ``explore(sc, cfg,
strategy=..., schedules=cap, do_shrink=False)`` with the default bounds (2 preemptions, 2
interrupts) for ``exhaustive`` and for ``dpor``, in the same process one after the other: the
schedules each ran, whether it exhausted its bounded space within the cap, the finding kinds, and
the CPU each took.  DPOR's redundant runs (abandoned where every option sleeps) are listed
beside its schedules: they cost CPU but are not schedules.

The headline is ``copy-highpage-smp-storm`` (4 CPUs copying highpages, each under a storm of
cli-protected interrupts), where plain search gets a larger cap (``STORM_CAP``): the target is
DPOR exhausted within the bounds with at least 10x fewer schedules than plain search, which a
plain search that has not exhausted at the cap bounds from below.

Then the storm's DPOR in parallel: in process with ``--jobs 2`` against serially, and as a user
runs it on a Dask ``distributed.LocalCluster`` of 2 single-threaded workers against one of 1 (wall
time of the whole ``highmem check`` process, clusters started before the timing, outputs compared
byte for byte; skipped without dask.distributed).

``python bench/bench_dpor.py`` (about 2 minutes idle); ``--quick`` lowers the caps.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time

from floor import Row, ratio_table
from highmem.scenarios import builtin_names, load_builtin
from highmem.sim.explore import explore

__all__ = ["run", "compare", "TARGET_FEWER"]

CAP = 3000
STORM = "copy-highpage-smp-storm"
STORM_CAP = 20_000
TARGET_FEWER = 10.0
SKIP = {"bounce-io"}


def compare(name: str, cap: int, plain_cap: int | None = None) -> dict[str, object]:
    """Plain exhaustive search and DPOR on built-in ``name``: schedules, exhausted, kinds, CPU seconds."""
    sc = load_builtin(name)
    cfg = sc.config()
    out: dict[str, object] = {"name": name}
    for strategy, limit in (("exhaustive", plain_cap or cap), ("dpor", cap)):
        t = time.process_time()
        ex = explore(sc, cfg, strategy=strategy, schedules=limit, do_shrink=False)
        out[strategy] = {"schedules": ex.schedules, "exhausted": ex.exhausted, "kinds": sorted(ex.counts),
                         "cpu": time.process_time() - t, "redundant": (ex.dpor or {}).get("redundant", 0),
                         "cap": limit}
    return out


def _cell(r: dict[str, object]) -> str:
    n = f"{r['schedules']:,}" + (" (all)" if r["exhausted"] else f" (cut at {r['cap']:,})")
    if r.get("redundant"):
        n += f" + {r['redundant']:,} redundant"
    return f"{n}, {r['cpu']:.2f} s CPU"


def parallel(name: str = STORM, jobs: int = 2, cap: int = 5000) -> tuple[float, float, bool]:
    """Wall seconds of a DPOR exploration of ``name`` serially and with ``jobs`` worker processes
    (subtrees handed out; the pool is started inside the timing), and whether the two are identical."""
    from highmem.sim.parallel import DporRunner, process_pool

    sc = load_builtin(name)
    cfg = sc.config()
    t = time.perf_counter()
    a = explore(sc, cfg, strategy="dpor", schedules=cap, do_shrink=False)
    t1 = time.perf_counter()
    b = explore(sc, cfg, strategy="dpor", schedules=cap, do_shrink=False,
                runner=DporRunner(sc, cfg, process_pool(jobs), jobs))
    t2 = time.perf_counter()
    return t1 - t, t2 - t1, a.to_dict() == b.to_dict()


def parallel_dask(name: str = STORM, cap: int = 5000) -> tuple[float, float, bool] | None:
    """Wall seconds of ``highmem check NAME --strategy dpor`` on a Dask LocalCluster of 1 worker and
    of 2, and whether the outputs are identical; None without dask.distributed."""
    try:
        from distributed import LocalCluster
    except ImportError:
        return None
    cli = [sys.executable, "-c", "import sys; from highmem.cli import main; sys.exit(main())", "check", name,
           "--strategy", "dpor", "--schedules", str(cap), "-q", "--executor", "dask", "--scheduler"]
    walls, outs = [], []
    for workers in (1, 2):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                               silence_logs=logging.ERROR)
        try:
            t = time.perf_counter()
            r = subprocess.run(cli + [cluster.scheduler_address], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, check=False)
            walls.append(time.perf_counter() - t)
            outs.append(r.stdout)
        finally:
            cluster.close()
    return walls[0], walls[1], outs[0] == outs[1]


def run(quick: bool = False) -> list[Row]:
    cap = 1000 if quick else CAP
    rows: list[Row] = []
    for name in builtin_names():
        if name in SKIP:
            continue
        storm = name == STORM
        c = compare(name, cap, (5 * cap if quick else STORM_CAP) if storm else None)
        p, d = c["exhaustive"], c["dpor"]
        assert isinstance(p, dict) and isinstance(d, dict)
        same = set(p["kinds"]) <= set(d["kinds"])
        if d["exhausted"] and d["schedules"]:
            fewer = p["schedules"] / d["schedules"]
            ratio = f"{'>= ' if not p['exhausted'] else ''}{fewer:.1f}x fewer"
        else:
            fewer, ratio = 0.0, "DPOR cut"
        ok: bool | None = same if not storm else (same and bool(d["exhausted"]) and fewer >= TARGET_FEWER)
        kinds = ", ".join(d["kinds"]) or "clean"
        rows.append(Row(f"{name}: dpor ({kinds})", _cell(d), f"exhaustive {_cell(p)}", ratio,
                        f"exhausted, >= {TARGET_FEWER:g}x fewer" if storm else "the same kinds", ok))
    serial, jobs2, same = parallel()
    rows.append(Row(f"{STORM}: dpor --jobs 2 (subtrees on a process pool), wall", f"{jobs2:.2f} s",
                    f"serial {serial:.2f} s", f"{serial / jobs2:.2f}x", "identical output", same))
    dask = parallel_dask()
    if dask is not None:
        d1, d2, same = dask
        rows.append(Row(f"{STORM}: dpor on a Dask LocalCluster, 2 workers vs 1 (wall)", f"{d2:.2f} s",
                        f"1 worker {d1:.2f} s", f"{d1 / d2:.2f}x", "identical output", same))
    return rows


if __name__ == "__main__":
    ratio_table(run("--quick" in sys.argv[1:]), "DPOR vs plain exhaustive search (bounds: 2 preemptions, 2 interrupts)")
