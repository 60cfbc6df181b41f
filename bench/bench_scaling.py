"""How the cost grows with online CPUs, memory size and schedule length (information, no targets).

Every step cost here is bench_step's subject - Python scenario bodies doing
4-byte loads through a KM_USER0 mapping, checker on, ``Simulator.run()``
timed alone, GC off - divided by the floor timed in the same loop (one run of
every subject of a table, then the floor, per repeat; minimum kept).

1. CPUs: linux-2.4 with NR_CPUS = 8 (``nr_cpus=8``) and 1, 2, 4 or 8 online
   CPUs, 2 GiB.  Boot time (best of 5, interleaved across the four
   machines); the step cost with one task on CPU 0 and the other CPUs idle;
   with one task per CPU (the N loads split between them) under the
   DefaultStrategy (a choice point at every step, never taken) and under
   RandomStrategy (seed 0: a greenlet switch whenever the choice moves to
   another CPU; the share of steps that switch is shown).
2. Memory: 1 GiB and 4 GiB non-PAE, 4 GiB and 64 GiB PAE, 1 CPU.  Boot time
   in this process (best of 5, interleaved, caches warm); in a fresh
   interpreter that imports highmem and boots once, the first boot's time
   (what a ``highmem`` command pays: per-size caches are built then) and the
   peak RSS (started through /bin/sh as ``bench_boot.peak_rss_kib`` does, so
   that ``ru_maxrss`` is the child's own), and what the boot adds to an
   import-only interpreter; the step cost on that machine.
3. Schedule length: runs of exactly 100, 1,000 and 10,000 steps (the
   1-CPU subject with N - 2 loads).  ``run()`` per step should be flat; the
   ``run_once`` column times what an exploration pays per schedule (boot +
   workload + Simulator + run) divided by the steps, so it shows how much of
   a short schedule is boot.
4. Where an exploration's time goes, per schedule: the phases of
   ``run_once`` (``Machine(cfg)``, ``sc.workload(m)``, ``Simulator(...)``,
   ``sim.run()``) timed separately over 300 random schedules of
   ``irq-uses-user-slot`` (seeded as ``explore`` seeds them), mean and median
   per phase, GC on as in a real exploration; compared with ``explore()``'s
   own wall time for the same 300 schedules.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

import bench_boot
import highmem
from bench_step import load_scenario, measure_runs
from floor import REPEAT, fmt_ns
from highmem.kernel.machine import Machine
from highmem.scenarios import load_builtin
from highmem.sim.engine import Simulator
from highmem.sim.explore import _strategy, explore
from highmem.sim.strategy import DefaultStrategy, RandomStrategy

__all__ = ["run", "tables", "cpu_table", "memory_table", "length_table"]

N = 20_000
CPUS = (1, 2, 4, 8)
NR_CPUS = 8
MEMORY: tuple[tuple[str, dict[str, Any]], ...] = (
    ("1 GiB", {"memory": "1G"}),
    ("4 GiB", {"memory": "4G"}),
    ("4 GiB PAE", {"memory": "4G", "pae": True}),
    ("64 GiB PAE", {"memory": "64G", "pae": True}),
)
LENGTHS = (100, 1_000, 10_000)
BOOT_REPEAT = 5


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], title: str) -> str:
    """A fixed-width text table (also printed)."""
    cells = [list(headers)] + [list(r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(headers))]
    lines = [title]
    for n, c in enumerate(cells):
        lines.append("  ".join(x.ljust(w) for x, w in zip(c, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    out = "\n".join(lines)
    print(out)
    return out


def boot_times(configs: dict[str, dict[str, Any]], repeat: int = BOOT_REPEAT) -> dict[str, float]:
    """Best in-process boot seconds per config, the configs interleaved repeat by repeat."""
    best = dict.fromkeys(configs, float("inf"))
    for kw in configs.values():  # warm-up (caches keyed by machine size)
        highmem.boot(**kw)
    for _ in range(repeat):
        for name, kw in configs.items():
            t0 = time.perf_counter()
            m = highmem.boot(**kw)
            best[name] = min(best[name], time.perf_counter() - t0)
            del m
    return best


_FRESH_SCRIPT = """\
import resource, time, highmem
t0 = time.perf_counter()
m = highmem.boot(**{kwargs!r})
dt = time.perf_counter() - t0
print(dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def fresh_boot(kwargs: dict[str, Any]) -> tuple[float, int]:
    """(first boot's seconds, peak RSS KiB) in a fresh interpreter, forked through /bin/sh."""
    argv = ["/bin/sh", "-c", '"$0" -c "$1"; exit $?', sys.executable, _FRESH_SCRIPT.format(kwargs=kwargs)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
    dt, kib = out.stdout.split()
    return float(dt), int(kib)


def _x(ns: float, fl: float) -> str:
    return f"{fmt_ns(ns)} ({ns / fl:.1f}x)"


def cpu_table(n: int = N) -> str:
    subjects = {}
    for c in CPUS:
        kw = {"cpus": c, "nr_cpus": NR_CPUS, "profile": "linux-2.4"}
        subjects[f"idle{c}"] = (load_scenario(n, **kw), DefaultStrategy)
        subjects[f"default{c}"] = (load_scenario(n, tasks=c, **kw), DefaultStrategy)
        subjects[f"random{c}"] = (load_scenario(n, tasks=c, **kw), lambda: RandomStrategy(0))
    steps, fl, results = measure_runs(subjects)
    boots = boot_times({str(c): {"cpus": c, "nr_cpus": NR_CPUS, "memory": "2G"} for c in CPUS})
    rows = []
    for c in CPUS:
        rnd = results[f"random{c}"]
        rows.append([f"{c} / {NR_CPUS}", fmt_ns(boots[str(c)] * 1e9), _x(steps[f"idle{c}"], fl),
                     _x(steps[f"default{c}"], fl), _x(steps[f"random{c}"], fl),
                     f"{len(rnd.choices) / rnd.steps:.0%}"])
    return table(["online / NR_CPUS", "boot", "step: 1 task, rest idle", "step: 1 task per CPU, default",
                  "step: 1 task per CPU, random", "random: steps that switch"], rows,
                 f"Scaling with CPUs (linux-2.4, 2 GiB, N = {n:,} loads per run; floor {fmt_ns(fl)})")


def memory_table(n: int = N) -> str:
    subjects = {}
    for label, kw in MEMORY:
        subjects[label] = (load_scenario(n, cpus=1, memory=kw["memory"], pae=kw.get("pae", False)),
                           DefaultStrategy)
    steps, fl, _ = measure_runs(subjects)
    boot_kw = {label: dict(kw, cpus=1) for label, kw in MEMORY}
    boots = boot_times(boot_kw)
    base = bench_boot.peak_rss_kib(None)
    rows = []
    ref = boots[MEMORY[0][0]]
    for label, _kw in MEMORY:
        first, kib = fresh_boot(boot_kw[label])
        rows.append([label, fmt_ns(boots[label] * 1e9), f"{boots[label] / ref:.2f}x", fmt_ns(first * 1e9),
                     f"{kib * 1024 / 1e6:.1f} MB", f"+{(kib - base) * 1024 / 1e6:.1f} MB",
                     _x(steps[label], fl)])
    return table(["memory", "boot (best of 5)", "boot vs 1 GiB", "first boot (fresh process)",
                  "peak RSS (fresh process)", "RSS added by boot", "step (checker on)"], rows,
                 f"Scaling with memory (linux-2.4, 1 CPU; import-only RSS {base * 1024 / 1e6:.1f} MB; "
                 f"floor {fmt_ns(fl)})")


def length_table() -> str:
    subjects = {}
    for steps_n in LENGTHS:
        sc = load_scenario(steps_n - 2)
        subjects[f"run{steps_n}"] = (sc, DefaultStrategy)
        subjects[f"once{steps_n}"] = (sc, DefaultStrategy)
    steps, fl, results = measure_runs(subjects, repeat=REPEAT * 3,
                                      with_boot=frozenset(f"once{s}" for s in LENGTHS))
    rows = []
    ref = steps[f"run{LENGTHS[-1]}"]
    for s in LENGTHS:
        assert results[f"run{s}"].steps == s, (s, results[f"run{s}"].steps)
        rows.append([f"{s:,}", _x(steps[f"run{s}"], fl), f"{steps[f'run{s}'] / ref:.2f}x",
                     _x(steps[f"once{s}"], fl), f"{(steps[f'once{s}'] - steps[f'run{s}']) / steps[f'once{s}']:.0%}"])
    return table(["steps per run", "run() per step", f"vs {LENGTHS[-1]:,} steps", "run_once per step (boot incl.)",
                  "share outside run()"], rows,
                 f"Scaling with schedule length (1 CPU, 2 GiB, DefaultStrategy; floor {fmt_ns(fl)})")


def phase_table(scenario: str = "irq-uses-user-slot", schedules: int = 300) -> str:
    sc = load_builtin(scenario)
    cfg = sc.config()
    phases: dict[str, list[float]] = {"Machine(cfg): boot": [], "sc.workload(m)": [], "Simulator(...)": [],
                                      "sim.run()": []}
    steps = 0
    explore(sc, cfg, strategy="random", schedules=20, do_shrink=False)  # warm-up
    t_loop = time.perf_counter()
    for i in range(schedules):
        t0 = time.perf_counter()
        m = Machine(cfg)
        t1 = time.perf_counter()
        w = sc.workload(m)
        t2 = time.perf_counter()
        sim = Simulator(m, w, _strategy("random", 0, i, 2, 0), max_steps=sc.max_steps, python_code=sc.python)
        t3 = time.perf_counter()
        res = sim.run()
        t4 = time.perf_counter()
        steps += res.steps
        for key, dt in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            phases[key].append(dt)
    t_loop = time.perf_counter() - t_loop
    t0 = time.perf_counter()
    ex = explore(sc, cfg, strategy="random", schedules=schedules, do_shrink=False)
    t_explore = time.perf_counter() - t0
    assert ex.steps == steps, (ex.steps, steps)
    total = sum(sum(v) for v in phases.values())
    rows = [[k, fmt_ns(statistics.mean(v) * 1e9), fmt_ns(statistics.median(v) * 1e9), f"{sum(v) / total:.0%}"]
            for k, v in phases.items()]
    rows.append(["all phases (run_once)", fmt_ns(total / schedules * 1e9), "", "100%"])
    rows.append(["explore() per schedule", fmt_ns(t_explore / schedules * 1e9), "",
                 f"{t_explore / t_loop:.0%} of the phases' loop"])
    return table(["phase", "mean per schedule", "median", "share"], rows,
                 f"Where an exploration's time goes: {scenario}, random, {schedules} schedules, "
                 f"{steps / schedules:.0f} steps per schedule")


def tables() -> list[str]:
    out = []
    for f in (cpu_table, memory_table, length_table, phase_table):
        out.append(f())
        print()
    return out


def run() -> list[str]:
    return tables()


if __name__ == "__main__":
    run()
