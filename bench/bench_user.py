"""What a user waits for, as ratios to yardsticks measured in the same process.

* copy-highpage: CPU per schedule of ``explore(copy-highpage, pct)`` (boot,
  workload, engine, checker: everything a schedule costs) against the
  hand-rolled generator explorer ``minimal_explorer.py`` (the *yardstick*),
  interleaved repeat by repeat, the minimum of each kept.
* ``highmem check copy-highpage --schedules 3000``: CPU of the whole process
  (user + system, from ``getrusage`` of the child), and the same ratio per
  schedule against the yardstick.
* bounce-io: CPU per simulated step of a PCT exploration (its calibration run's steps
  counted, as its time is) against the floor.
* start-up: CPU of ``highmem check copy-highpage --schedules 1 --json`` and
  of ``highmem --version`` against ``python -c pass``.

The yardstick lives outside the repository (``$HIGHMEM_YARDSTICK``, default
``/work/shared/yardsticks/minimal_explorer.py``); without it, its rows say so.
CPU time (``time.process_time``) rather than wall time: the figures hold on
a machine shared with other work.
"""

from __future__ import annotations

import importlib.util
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from floor import FLOOR_STMT, Row, _timer, floor_globals, fmt_ns, ratio_table
from highmem.scenarios import load_builtin
from highmem.sim.explore import explore, pct_k

__all__ = ["run", "yardstick", "copy_per_schedule", "child_cpu"]

YARDSTICK = os.environ.get("HIGHMEM_YARDSTICK", "/work/shared/yardsticks/minimal_explorer.py")
COPY_SCHEDULES = 300
REPEAT = 5
#: Targets of issue 14.
TARGET_COPY_RATIO = 8.0
TARGET_BOUNCE_FLOORS = 30.0
TARGET_START_RATIO = 5.0


def yardstick() -> ModuleType | None:
    """The minimal explorer as a module, or None when it is not there."""
    p = Path(YARDSTICK)
    if not p.is_file():
        return None
    spec = importlib.util.spec_from_file_location("minimal_explorer", p)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _yard_once(mod: ModuleType, n: int) -> float:
    t = time.process_time()
    for i in range(n):
        mod.schedule_gen(random.Random(1_000_003 + i))
    return (time.process_time() - t) / n


def _copy_once(n: int, **kw: Any) -> float:
    sc = load_builtin("copy-highpage")
    cfg = sc.config()
    t = time.process_time()
    ex = explore(sc, cfg, strategy="pct", schedules=n, seed=0, **kw)
    dt = time.process_time() - t
    if ex.counts:
        raise AssertionError(f"copy-highpage is clean, yet: {dict(ex.counts)}")
    return dt / n


def copy_per_schedule(n: int = COPY_SCHEDULES, repeat: int = REPEAT) -> tuple[float, float | None]:
    """(seconds of CPU per copy-highpage schedule, per yardstick schedule or None), minima of ``repeat``."""
    mod = yardstick()
    best_c = best_y = float("inf")
    _copy_once(max(1, n // 10))
    for _ in range(repeat):
        best_c = min(best_c, _copy_once(n))
        if mod is not None:
            best_y = min(best_y, _yard_once(mod, n * 3))
    return best_c, (best_y if mod is not None else None)


def _child_env() -> dict[str, str]:
    # As an installed highmem runs: with its bytecode cached (pip compiles it at install time).
    # PYTHONDONTWRITEBYTECODE would make every start compile every module; the cache goes
    # under a temporary prefix so the source tree stays clean.
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "highmem-bench-pycache")
    return env


def child_cpu(argv: list[str], repeat: int = 3) -> float:
    """The least CPU seconds (user + system) of ``repeat`` runs of ``argv`` in a child process
    (after one run that fills the bytecode cache)."""
    best = float("inf")
    env = _child_env()
    subprocess.run(argv, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(argv, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best = min(best, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return best


def _highmem() -> list[str]:
    return [sys.executable, "-c", "import sys; from highmem.cli import main; sys.exit(main())"]


def bounce_per_step(schedules: int = 10, rounds: int = 3) -> tuple[float, float]:
    """(CPU seconds per simulated step of a bounce-io PCT exploration, floor seconds).

    Every step the exploration simulates is counted: its schedules' and those of PCT's calibration
    run (the default schedule, whose length is PCT's k), which the exploration also pays for.
    ``rounds`` times the floor, then the exploration: the minimum of each (the floor is a 100 ns
    statement, which another process on the machine moves by half)."""
    t = _timer(FLOOR_STMT, floor_globals())
    sc = load_builtin("bounce-io")
    cfg = sc.config()
    calibration = pct_k(sc, cfg)
    fl = per = float("inf")
    for _ in range(rounds):
        fl = min(fl, min(t.repeat(5, 200_000)) / 200_000)
        t0 = time.process_time()
        ex = explore(sc, cfg, strategy="pct", schedules=schedules, seed=0, depth=2)
        per = min(per, (time.process_time() - t0) / (ex.steps + calibration))
    return per, fl


def builtin_rates(schedules: int = 100) -> list[tuple[str, float, float, int]]:
    """(built-in, schedules/s restoring a snapshot, schedules/s booting every schedule, steps/schedule)
    of a PCT exploration of each built-in on its own profile, CPU time, best of 3."""
    from highmem.errors import HighmemError
    from highmem.scenarios import builtin_names

    out = []
    for name in builtin_names():
        sc = load_builtin(name)
        cfg = sc.config()
        n = max(2, schedules // 30) if name == "bounce-io" else schedules
        best = {True: float("inf"), False: float("inf")}
        steps = 0
        for _ in range(3):
            for snap in (True, False):
                t = time.process_time()
                try:
                    ex = explore(sc, cfg, strategy="pct", schedules=n, seed=0, do_shrink=False, snapshot=snap)
                except HighmemError:
                    break
                best[snap] = min(best[snap], time.process_time() - t)
                steps = ex.steps // max(1, ex.schedules)
        if best[True] < float("inf"):
            out.append((name, n / best[True], n / best[False], steps))
    return out


def run(quick: bool = False) -> list[Row]:
    rows: list[Row] = []
    for name, fast, slow, steps in builtin_rates(30 if quick else 100):
        rows.append(Row(f"{name}: schedules/s (pct, {steps:,} steps/schedule)", f"{fast:,.0f}/s",
                        f"{slow:,.0f}/s booting each schedule", f"{fast / slow:.2f}x", "(info)"))
    c, y = copy_per_schedule()
    if y is None:
        rows.append(Row("copy-highpage per schedule (explore, pct)", fmt_ns(c * 1e9), "no yardstick",
                        target="(info)"))
    else:
        r = c / y
        rows.append(Row("copy-highpage per schedule (explore, pct, in-process)", fmt_ns(c * 1e9),
                        fmt_ns(y * 1e9) + " minimal_explorer gen", f"{r:.1f}x", f"<= {TARGET_COPY_RATIO:g}x",
                        r <= TARGET_COPY_RATIO))
    n = 3000
    cpu = child_cpu(_highmem() + ["check", "copy-highpage", "--schedules", str(n)], repeat=1 if quick else 2)
    rows.append(Row(f"`highmem check copy-highpage --schedules {n}`: CPU", f"{cpu:.2f} s",
                    (fmt_ns(y * 1e9) + " x " + str(n)) if y else "",
                    f"{cpu / n / y:.1f}x" if y else "", "(info)"))
    per, fl = bounce_per_step(3 if quick else 10)
    rows.append(Row("bounce-io per simulated step (explore, pct, CPU)", fmt_ns(per * 1e9), fmt_ns(fl * 1e9) + " floor",
                    f"{per / fl:.1f}x", f"<= {TARGET_BOUNCE_FLOORS:g}x", per / fl <= TARGET_BOUNCE_FLOORS))
    base = child_cpu([sys.executable, "-c", "pass"], repeat=5)
    one = child_cpu(_highmem() + ["check", "copy-highpage", "--schedules", "1", "--json"], repeat=5)
    ver = child_cpu(_highmem() + ["--version"], repeat=5)
    rows.append(Row("start: `highmem check copy-highpage --schedules 1 --json`: CPU", f"{one * 1e3:.0f} ms",
                    f"{base * 1e3:.0f} ms python -c pass", f"{one / base:.1f}x", f"<= {TARGET_START_RATIO:g}x",
                    one / base <= TARGET_START_RATIO))
    rows.append(Row("start: `highmem --version`: CPU", f"{ver * 1e3:.0f} ms", f"{base * 1e3:.0f} ms python -c pass",
                    f"{ver / base:.1f}x", "(info)"))
    return rows


if __name__ == "__main__":
    ratio_table(run(quick="--quick" in sys.argv), "what a user waits for (CPU time, same process as the yardstick)")
