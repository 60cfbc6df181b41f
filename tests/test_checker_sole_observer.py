"""The checker as the only observer (direct hooks, events it does not judge left unbuilt) finds exactly
what it finds when another observer makes the machine build and fan out every event."""

from __future__ import annotations

import re
from typing import Any

import pytest

from highmem import events as ev
from highmem.errors import HighmemError
from highmem.profiles import PROFILE_NAMES
from highmem.scenarios import builtin_names, load_builtin
from highmem.sim.checker import Checker
from highmem.sim.explore import Booted, run_once
from highmem.sim.strategy import PCTStrategy, RandomStrategy


def test_judges_names_exactly_the_handled_event_types() -> None:
    """EventBus.judges lets emitters skip building events outside Checker.judges: the set must be
    every event type the checker's dispatch handles, and no other."""
    from highmem.sim.checker import _HANDLERS

    assert Checker.judges == frozenset(_HANDLERS)
    assert all(callable(getattr(Checker, name)) for name in _HANDLERS.values())
    assert ev.IrqFlags not in Checker.judges and ev.SetPte not in Checker.judges


def test_bus_binds_the_direct_hooks_only_for_a_sole_observer() -> None:
    bus = ev.EventBus()
    sc = load_builtin("copy-highpage")
    from highmem.kernel.machine import Machine

    checker = Checker(Machine(sc.config()), lambda: 0)
    bus.subscribe(checker)
    assert bus.judges is Checker.judges and bus.on_kmap == checker.on_kmap and bus.on_kunmap == checker.on_kunmap
    other = bus.subscribe(lambda e: None)
    assert bus.judges is None and bus.on_kmap is None and bus.on_kunmap is None and bus.on_access is None
    bus.unsubscribe(other)
    assert bus.judges is Checker.judges


def _findings(res: Any) -> list[dict[str, Any]]:
    return [f.to_dict() for f in res.findings]


@pytest.mark.parametrize("name", [n for n in builtin_names() if n != "bounce-io"])
def test_sole_checker_finds_what_a_fanned_out_checker_finds(name: str) -> None:
    sc = load_builtin(name)
    for profile in PROFILE_NAMES:
        try:
            cfg = sc.config(profile)
        except HighmemError:
            continue
        booted = Booted(sc, cfg)
        for i in range(8):
            strat: Any = PCTStrategy(i, 2, 40) if i % 2 else RandomStrategy(i)
            try:
                alone, _ = run_once(sc, cfg, strat, booted=booted)
            except HighmemError as e:
                # The scenario does not fit this profile (a km type it lacks): it fails the same way.
                with pytest.raises(HighmemError, match="^" + re.escape(str(e)) + "$"):
                    run_once(sc, cfg, PCTStrategy(i, 2, 40) if i % 2 else RandomStrategy(i), trace=True)
                break
            strat = PCTStrategy(i, 2, 40) if i % 2 else RandomStrategy(i)
            # trace=True subscribes a recorder next to the checker: every event is built and fanned out.
            fanned, rec = run_once(sc, cfg, strat, trace=True, booted=booted)
            assert rec is not None
            assert (alone.status, alone.steps, alone.choices) == (fanned.status, fanned.steps, fanned.choices)
            assert _findings(alone) == _findings(fanned), (name, profile, i)
