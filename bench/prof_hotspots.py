"""Where the time goes: cProfile of the benchmarked workloads, top functions by own time.

``python bench/prof_hotspots.py [step|random|explore|boot|bounce ...]``
(default: all).  Not part of run.py: cProfile adds a fixed cost to every
Python call, so its shares overstate small, frequently called functions; the
causal figures (what removing a part saves) are bench_step's "where it
goes" rows and ``bench/prototypes.py``.  Shares are of the profiled total;
"ns/unit" is own time per step (or per schedule / boot), profiler included.
The Python line guard (``sys.settrace``) cannot be profiled this way: the
profiler does not see the trace function's calls.

* step: bench_step's subject (1 CPU, DefaultStrategy, 100,000 loads);
* random: 2 CPUs x 1 task, RandomStrategy (a switch on half the steps);
* explore: ``explore(irq-uses-user-slot, random, 300 schedules)``;
* boot: 300 x ``Machine(cfg)`` (linux-2.4, 2 CPUs, 2 GiB);
* bounce: 3 PCT schedules of bounce-io (1,000 I/Os each).
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
from collections import Counter
from collections.abc import Callable

import bench_step
from highmem.kernel.machine import Machine
from highmem.profiles import make_config
from highmem.scenarios import load_builtin
from highmem.sim.explore import explore, pct_k, run_once
from highmem.sim.strategy import DefaultStrategy, PCTStrategy, RandomStrategy

__all__ = ["profile", "WORKLOADS"]


def _where(filename: str) -> str:
    if "/src/highmem/" in filename:
        return filename.split("/src/highmem/")[-1]
    return "<builtin>" if filename == "~" else os.path.basename(filename)


def profile(fn: Callable[[], int], label: str, unit: str, top: int = 15) -> str:
    """Profile ``fn()`` (which returns how many units it did) and format the top functions by own time."""
    pr = cProfile.Profile()
    pr.enable()
    units = fn()
    pr.disable()
    st = pstats.Stats(pr)
    by_fn: Counter[str] = Counter()
    by_file: Counter[str] = Counter()
    for (filename, _line, name), (_cc, _nc, tt, _ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        where = _where(filename)
        by_fn[f"{where}:{name}"] += tt
        by_file[where] += tt
    total = sum(by_fn.values())
    lines = [f"{label}: {total:.3f} s profiled, {units:,} {unit}s, {total / units * 1e9:,.0f} ns/{unit} (profiled)",
             "  by file: " + ", ".join(f"{f} {t / total:.0%}" for f, t in by_file.most_common(6))]
    for name, t in by_fn.most_common(top):
        lines.append(f"  {t / total:6.1%}  {t / units * 1e9:8,.0f} ns/{unit}  {name}")
    out = "\n".join(lines)
    print(out + "\n")
    return out


def _step() -> Callable[[], int]:
    sim = bench_step.build(bench_step.load_scenario(100_000), DefaultStrategy())
    return lambda: sim.run().steps


def _random() -> Callable[[], int]:
    sim = bench_step.build(bench_step.load_scenario(100_000, cpus=2, tasks=2), RandomStrategy(0))
    return lambda: sim.run().steps


def _explore() -> Callable[[], int]:
    sc = load_builtin("irq-uses-user-slot")
    cfg = sc.config()
    return lambda: explore(sc, cfg, strategy="random", schedules=300, do_shrink=False).schedules


def _boot() -> Callable[[], int]:
    cfg = make_config("linux-2.4", cpus=2, memory="2G")

    def boots() -> int:
        for _ in range(300):
            Machine(cfg)
        return 300
    return boots


def _bounce() -> Callable[[], int]:
    sc = load_builtin("bounce-io")
    cfg = sc.config()
    k = pct_k(sc, cfg)
    return lambda: sum(run_once(sc, cfg, PCTStrategy(i, 2, k))[0].steps for i in range(3))


#: name -> (prepare() returning the profiled callable, label, unit); preparation (boot of the subject) is not profiled
WORKLOADS: dict[str, tuple[Callable[[], Callable[[], int]], str, str]] = {
    "step": (_step, "step (1 CPU, DefaultStrategy, checker on)", "step"),
    "random": (_random, "step (2 CPUs, RandomStrategy, checker on)", "step"),
    "explore": (_explore, "explore irq-uses-user-slot, random, 300 schedules", "schedule"),
    "boot": (_boot, "boot linux-2.4, 2 CPUs, 2 GiB", "boot"),
    "bounce": (_bounce, "bounce-io, 3 PCT schedules", "step"),
}


if __name__ == "__main__":
    for key in sys.argv[1:] or list(WORKLOADS):
        prepare, label, unit = WORKLOADS[key]
        prepare()()  # warm-up
        profile(prepare(), label, unit)
