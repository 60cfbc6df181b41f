"""The cost of one simulated step (engine + checker) and of one bare machine op, versus the floor.

Subject: a Python scenario on a 1-CPU ``linux-2.4`` machine with 2 GiB (one
high page).  Its only task does::

    v = k.kmap_atomic(pages["p"], "KM_USER0")
    for _ in range(N):
        k.load(v, 4)
    k.kunmap_atomic(v, "KM_USER0")

so a run is ``N + 2`` steps, each a scheduling point, a TLB lookup, a 4-byte
read of the frame and one event judged by the checker.

What is timed: ``Simulator.run()`` only.  The machine is booted, the
workload built (page allocated) and the :class:`Simulator` constructed (as
:func:`highmem.sim.explore.run_once` does) before the clock starts.  The
timed run therefore includes creating and starting the task's greenlet, the
``N + 2`` steps with the Python loop of the body, the end of the task and
``RunResult`` (``Machine.stats()``); with N = 20,000 the fixed part is below
1% (see bench_scaling's schedule-length table).  Per-step time = run time /
``result.steps``.  The garbage collector is off while the run is timed, as
:mod:`timeit` does for the floor.

Rows:

* step, DefaultStrategy, checker on, Python body (``Scenario.python`` false,
  as :func:`explore` runs a scenario built in code) - target <= 10x floor;
* where that step's time goes, by removing parts (information): the same
  run with the checker unsubscribed before the clock starts (engine only: no
  event is even built, ``bus.active`` is false), and with a no-op observer
  in the checker's place (every event built and delivered, none judged);
  the differences are the cost of events and of the checker's judgement;
* the same scenario as ``highmem check file.py`` runs it (``python=True``:
  the engine's ``sys.settrace`` line guard that turns an endless Python loop
  into a step-budget finding) - same target;
* the same operations as a TOML scenario (``repeat`` of ``load``): the
  operation interpreter's overhead - information;
* RandomStrategy (seed 0) on 2 CPUs with one task each doing N/2 loads: a
  choice at every step, and a greenlet switch whenever the choice moves to
  the other CPU - information (the share of steps that switch is shown);
* observers off: ``m.load(v, 4)`` on a booted machine in process context,
  no engine, no checker, no observer (the bare machine op) - target <= 4x.

Every subject is timed interleaved with the floor, repeat by repeat, and the
minimum of the repeats is kept for each.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

import highmem
from floor import FLOOR_STMT, REPEAT, Row, _timer, compare, floor_globals, fmt_ns, ratio_table
from highmem.kernel.machine import Machine
from highmem.scenarios import ContextSpec, PageSpec, Scenario, load_toml_text
from highmem.sim.engine import RunResult, Simulator
from highmem.sim.strategy import DefaultStrategy, RandomStrategy, Strategy

__all__ = ["run", "load_scenario", "toml_scenario", "time_run", "measure_runs", "TARGET_STEP", "TARGET_BARE"]

#: Targets, in floors.
TARGET_STEP = 10.0
TARGET_BARE = 4.0

#: Loads per run.
N = 20_000
#: Loads per run with the line guard (the same per-step cost, measured in less time).
N_GUARD = 5_000
#: Floor executions per repeat.
FLOOR_NUMBER = 200_000
BARE_NUMBER = 200_000


def load_scenario(n: int, *, cpus: int = 1, tasks: int = 1, memory: str = "2G", pae: bool = False,
                  profile: str | None = None, nr_cpus: int | None = None, python: bool = False) -> Scenario:
    """A Python scenario: ``tasks`` tasks (task i on CPU i % cpus) sharing ``n`` loads through KM_USER0.

    The run has exactly ``n + 2 * tasks`` steps.
    """
    per = [n // tasks + (1 if i < n % tasks else 0) for i in range(tasks)]

    def make(count: int) -> Callable[[Machine, dict[str, Any]], None]:
        def body(k: Machine, pages: dict[str, Any]) -> None:
            v = k.kmap_atomic(pages["p"], "KM_USER0")
            for _ in range(count):
                k.load(v, 4)
            k.kunmap_atomic(v, "KM_USER0")
        return body

    machine: dict[str, Any] = {"cpus": cpus, "memory": memory, "pae": pae}
    if profile is not None:
        machine["profile"] = profile
    if nr_cpus is not None:
        machine["nr_cpus"] = nr_cpus
    return Scenario(
        name=f"step-bench-{n}",
        machine=machine,
        pages=[PageSpec("p", data=b"step")],
        contexts=[ContextSpec("task", f"t{i}", i % cpus, fn=make(per[i])) for i in range(tasks)],
        max_steps=n + 1000,
        python=python,
    )


def toml_scenario(n: int) -> Scenario:
    """The 1-task load scenario as TOML (the operation interpreter runs it)."""
    text = f"""\
[scenario]
name = "step-bench-toml"
max_steps = {n + 1000}

[machine]
cpus = 1
memory = "2G"

[pages]
p = {{ data = "step" }}

[[task]]
name = "t0"
cpu = 0
ops = [
  {{ op = "kmap_atomic", page = "p", type = "KM_USER0", as = "v" }},
  {{ op = "repeat", count = {n}, ops = [ {{ op = "load", addr = "v", size = 4 }} ] }},
  {{ op = "kunmap_atomic", addr = "v", type = "KM_USER0" }},
]
"""
    return load_toml_text(text, "<bench_step>")


def build(sc: Scenario, strategy: Strategy) -> Simulator:
    """Boot and build the simulator as run_once does (not timed)."""
    cfg = sc.config()
    m = Machine(cfg)
    return Simulator(m, sc.workload(m), strategy, max_steps=sc.max_steps, python_code=sc.python)


def time_run(sc: Scenario, strategy: Strategy, with_boot: bool = False,
             prepare: Callable[[Simulator], None] | None = None) -> tuple[float, RunResult]:
    """(seconds of ``Simulator.run()`` alone, result); GC off while timed.

    ``with_boot``: time what run_once does instead (boot, workload, Simulator, run).
    ``prepare(sim)`` runs before the clock starts (to change the observers).
    """
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        sim = build(sc, strategy)
        if prepare is not None:
            prepare(sim)
        if not with_boot:
            t0 = time.perf_counter()
        res = sim.run()
        dt = time.perf_counter() - t0
    finally:
        gc.enable()
    if res.status != "done" or res.findings:
        raise AssertionError(f"{sc.name}: the bench run must be clean: {res.status} {res.findings}")
    return dt, res


#: (scenario, strategy factory) or (scenario, strategy factory, prepare(sim))
Subject = tuple[Any, ...]


def measure_runs(subjects: dict[str, Subject], *, repeat: int = REPEAT, floor_number: int = FLOOR_NUMBER,
                 with_boot: frozenset[str] = frozenset()) -> tuple[dict[str, float], float, dict[str, RunResult]]:
    """({name: ns per step}, floor ns, {name: last result}): one run of each subject then the floor, per
    repeat, minimum kept.  Subjects named in ``with_boot`` are timed with their boot (see time_run)."""
    fl = _timer(FLOOR_STMT, floor_globals())
    fl.timeit(floor_number // 20)
    best = dict.fromkeys(subjects, float("inf"))
    best_floor = float("inf")
    results: dict[str, RunResult] = {}
    for sc, strat, *prep in subjects.values():  # warm-up
        time_run(sc, strat(), False, *prep)
    for _ in range(repeat):
        for name, (sc, strat, *prep) in subjects.items():
            dt, res = time_run(sc, strat(), name in with_boot, *prep)
            best[name] = min(best[name], dt / res.steps * 1e9)
            results[name] = res
        best_floor = min(best_floor, fl.timeit(floor_number) / floor_number * 1e9)
    return best, best_floor, results


def measure_bare(number: int = BARE_NUMBER) -> tuple[float, float]:
    """(ns of ``m.load(v, 4)`` with observers off, floor ns), interleaved."""
    m = highmem.boot(cpus=1, memory="2G")
    page = m.alloc_highpage()
    g = floor_globals()
    with m.process(cpu=0):
        v = m.kmap_atomic(page, m.km_type.KM_USER0)
        m.store(v, b"bare")
        g.update(m=m, v=v)
        res = compare({"load": "m.load(v, 4)", "floor": FLOOR_STMT}, number, globals=g)
        assert m.load(v, 4) == b"bare"
    assert not m.bus.active and m.sched_point is None
    return res["load"], res["floor"]


def _no_checker(sim: Simulator) -> None:
    """Engine only: the checker unsubscribed, so nothing is observed and no event is built."""
    sim.m.bus.unsubscribe(sim.checker)


def _noop_observer(sim: Simulator) -> None:
    """Every event built and delivered, but to a no-op observer instead of the checker."""
    sim.m.bus.unsubscribe(sim.checker)
    sim.m.subscribe(lambda e: None)


def subjects(n: int = N, n_guard: int = N_GUARD) -> dict[str, Subject]:
    return {
        "python": (load_scenario(n), DefaultStrategy),
        "engine": (load_scenario(n), DefaultStrategy, _no_checker),
        "noop": (load_scenario(n), DefaultStrategy, _noop_observer),
        "guard": (load_scenario(n_guard, python=True), DefaultStrategy),
        "toml": (toml_scenario(n), DefaultStrategy),
        "random": (load_scenario(n, cpus=2, tasks=2), lambda: RandomStrategy(0)),
    }


def run(n: int = N) -> list[Row]:
    steps, fl, results = measure_runs(subjects(n))
    bare, bare_floor = measure_bare()
    rnd = results["random"]
    switch_share = len(rnd.choices) / rnd.steps

    def row(label: str, key: str, gated: bool, note: str = "") -> Row:
        ratio = steps[key] / fl
        return Row(label, fmt_ns(steps[key]) + note, fmt_ns(fl) + " floor", f"{ratio:.2f}x",
                   f"<= {TARGET_STEP:g}x" if gated else "(info)", ratio <= TARGET_STEP if gated else None)

    ratio_bare = bare / bare_floor
    return [
        row("step: checker on, Python body, 1 CPU, DefaultStrategy", "python", True),
        row("  where it goes: engine only (checker unsubscribed)", "engine", False),
        row("  where it goes: engine + events to a no-op observer", "noop", False),
        # Information: Python scenario *files* pay for the endless-loop guard (sys.settrace counts
        # the user's lines); the target is for the engine's step itself (row above).
        row("step: same, as `highmem check file.py` (line guard)", "guard", False),
        row("step: same ops as a TOML scenario (interpreter)", "toml", False),
        row("step: RandomStrategy, 2 CPUs x 1 task", "random", False, f" ({switch_share:.0%} switch)"),
        Row("machine op m.load, observers off (no engine/checker)", fmt_ns(bare), fmt_ns(bare_floor) + " floor",
            f"{ratio_bare:.2f}x", f"<= {TARGET_BARE:g}x", ratio_bare <= TARGET_BARE),
    ]


if __name__ == "__main__":
    ratio_table(run(), f"one simulated step vs the floor (N = {N:,} loads per run; run() timed alone)")
