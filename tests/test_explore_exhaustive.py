"""Bounded exhaustive exploration: exact schedule counts, the bounds, and the exhausted flag."""

from __future__ import annotations

import pytest

from highmem.scenarios import load_builtin, load_toml_text
from highmem.scenarios.model import Scenario
from highmem.sim.explore import explore


def tiny(n: int, m: int, *, max_: int = 1) -> Scenario:
    """One task of n steps on a 1-CPU machine and one optional SA_INTERRUPT irq of m steps."""
    return load_toml_text(f"""
[machine]
cpus = 1

[[task]]
name = "t"
ops = [{{ op = "work", steps = {n} }}]

[[irq]]
name = "eth0"
max = {max_}
sa_interrupt = true
ops = [{{ op = "work", steps = {m} }}]
""", "t.toml")


@pytest.mark.parametrize(("n", "m"), [(1, 1), (3, 2), (5, 3), (8, 1)])
def test_exhaustive_counts_one_schedule_per_injection_point(n: int, m: int) -> None:
    """max_interrupts=1: the default schedule plus one per choice point offering the irq (start + n steps)."""
    sc = tiny(n, m)
    ex = explore(sc, sc.config(), strategy="exhaustive", schedules=100, max_interrupts=1, max_preemptions=0)
    assert ex.exhausted is True
    assert ex.schedules == n + 2
    # "Up to max" arrivals: the default schedule has none (n steps); each other one runs the task's n steps
    # and the handler's m steps.  Once the task has exited no optional interrupt arrives any more.
    assert ex.steps == n + (n + 1) * (n + m)
    assert dict(ex.counts) == {}


def test_exhaustive_zero_interrupts_is_default_schedule_only() -> None:
    """max_interrupts=0 allows no injection choice: exactly one schedule, and the search is exhausted."""
    sc = tiny(5, 3)
    ex = explore(sc, sc.config(), strategy="exhaustive", schedules=100, max_interrupts=0, max_preemptions=0)
    assert (ex.schedules, ex.exhausted) == (1, True)


def test_exhaustive_stops_at_schedule_limit_not_exhausted() -> None:
    """A schedule limit below the space size runs exactly that many schedules and reports exhausted=False."""
    sc = tiny(5, 3)
    ex = explore(sc, sc.config(), strategy="exhaustive", schedules=3, max_interrupts=1, max_preemptions=0)
    assert (ex.schedules, ex.exhausted) == (3, False)


def test_exhaustive_limit_equal_to_space_is_exhausted() -> None:
    """A schedule limit exactly the size of the space (n + 2) still reports exhausted=True."""
    sc = tiny(5, 3)
    ex = explore(sc, sc.config(), strategy="exhaustive", schedules=7, max_interrupts=1, max_preemptions=0)
    assert (ex.schedules, ex.exhausted) == (7, True)


def test_exhaustive_two_arrivals_count() -> None:
    """An irq with max=2 and max_interrupts=2 on a 2-step task: 10 schedules, counted by hand."""
    # Default run: choice points at the start, step 1 and step 2 (both arrivals are forced after the task ends).
    # Injecting at the start: afterwards the start (run t vs irq), step 1 and step 2 offer the second arrival: +3.
    # Injecting at step 1: when the handler returns (resume t vs irq) and at step 2: +2.
    # Injecting at step 2: when the handler returns: +1.  Total 1 + (1 + 3) + (1 + 2) + (1 + 1) = 10.
    sc = tiny(2, 1, max_=2)
    ex = explore(sc, sc.config(), strategy="exhaustive", schedules=200, max_interrupts=2, max_preemptions=0)
    assert ex.exhausted is True
    assert ex.schedules == 10


def test_exhaustive_finds_irq_slot_takeover() -> None:
    """Exhaustive search with one interrupt and no preemption reaches the stale-access of irq-uses-user-slot."""
    sc = load_builtin("irq-uses-user-slot")
    ex = explore(sc, sc.config(), strategy="exhaustive", schedules=500, max_interrupts=1, max_preemptions=0,
                 do_shrink=False, stop_on_first=True)
    assert "stale-access" in ex.counts
