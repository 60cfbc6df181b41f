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

``python bench/bench_dpor.py`` (about 1.5 minutes idle); ``--quick`` lowers the caps.
"""

from __future__ import annotations

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
    return rows


if __name__ == "__main__":
    ratio_table(run("--quick" in sys.argv[1:]), "DPOR vs plain exhaustive search (bounds: 2 preemptions, 2 interrupts)")
