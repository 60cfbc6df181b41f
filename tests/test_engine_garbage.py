"""A finished schedule leaves no reference cycles: its simulator, checker and strategy are freed by
reference counting, so explorations do not trigger the cyclic garbage collector schedule after schedule."""

from __future__ import annotations

import gc
import weakref

import pytest

from highmem.scenarios import load_builtin
from highmem.sim.engine import Simulator
from highmem.sim.explore import Booted, run_once
from highmem.sim.strategy import PCTStrategy


@pytest.mark.parametrize("name", ["copy-highpage", "kmap-high-ipi-deadlock-2024", "irq-uses-user-slot"])
def test_a_finished_simulator_is_freed_without_the_cycle_collector(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sc = load_builtin(name)
    cfg = sc.config()
    booted = Booted(sc, cfg)
    made: list[weakref.ref[Simulator]] = []
    init = Simulator.__init__

    def spy(self: Simulator, *args: object, **kwargs: object) -> None:
        init(self, *args, **kwargs)  # type: ignore[arg-type]
        made.append(weakref.ref(self))

    monkeypatch.setattr(Simulator, "__init__", spy)
    for i in range(3):
        run_once(sc, cfg, PCTStrategy(i, 2, 30), booted=booted)
    was = gc.isenabled()
    gc.disable()
    try:
        res, _ = run_once(sc, cfg, PCTStrategy(7, 2, 30), booted=booted)
        checker = weakref.ref(made[-1]().checker)  # type: ignore[union-attr]
        booted.acquire()  # the booted machine lets go of the last simulator (and restores)
        del res
        assert made[-1]() is None and checker() is None
    finally:
        if was:
            gc.enable()


def test_the_checker_keeps_answering_the_final_step_after_the_run() -> None:
    sc = load_builtin("copy-highpage")
    cfg = sc.config()
    from highmem.kernel.machine import Machine

    m = Machine(cfg)
    sim = Simulator(m, sc.workload(m), PCTStrategy(1, 2, 30))
    res = sim.run()
    assert sim.checker.step_of() == sim.step == res.steps
