"""Shrinking failing schedules: same finding kind, never more injections or choices, exact replay."""

from __future__ import annotations

import pytest

from highmem.errors import HighmemError
from highmem.scenarios import load_builtin
from highmem.sim.explore import explore, run_once, shrink
from highmem.sim.strategy import SparseReplayStrategy

IRQ = "irq eth0@0"


@pytest.fixture(scope="module")
def irq_slot() -> tuple[object, object]:
    sc = load_builtin("irq-uses-user-slot")
    return sc, sc.config()


@pytest.mark.parametrize("seed", [0, 3])
def test_shrink_keeps_kind_and_does_not_grow(irq_slot: tuple[object, object], seed: int) -> None:
    """Shrinking the first stale-access schedule keeps stale-access with no more injections, preemptions or choices."""
    sc, cfg = irq_slot
    ex = explore(sc, cfg, strategy="pct", schedules=200, seed=seed, do_shrink=False, stop_on_first=True)
    original = ex.by_kind["stale-access"].choices
    before, _ = run_once(sc, cfg, SparseReplayStrategy(original))
    assert "stale-access" in {f.kind for f in before.findings}
    choices, after = shrink(sc, cfg, original, "stale-access")
    assert "stale-access" in {f.kind for f in after.findings}
    assert after.injections <= before.injections
    assert after.preemptions <= before.preemptions
    assert len(choices) <= len(before.choices)
    assert choices == after.choices


def test_shrink_explore_reports_one_irq_choice(irq_slot: tuple[object, object]) -> None:
    """explore's shrunk stale-access schedule injects eth0 exactly once and replays to the same finding."""
    sc, cfg = irq_slot
    ex = explore(sc, cfg, strategy="pct", schedules=200, seed=0)
    rep = ex.by_kind["stale-access"]
    assert rep.shrunk is True and rep.finding.kind == "stale-access"
    assert [label for _, label in rep.choices].count(IRQ) == 1
    assert len(rep.choices) <= rep.original_choices
    res, _ = run_once(sc, cfg, SparseReplayStrategy(rep.choices, strict=True))
    assert res.steps == rep.steps
    assert rep.finding.to_dict() in [f.to_dict() for f in res.findings]


def test_shrink_drops_a_redundant_preemption(irq_slot: tuple[object, object]) -> None:
    """The irq inside the window plus a later needless switch to the bystander shrinks to the irq alone."""
    sc, cfg = irq_slot
    # With option 0 elsewhere, choice point j is the writer's step j; step 32 (the store) lies after the kmap
    # (step 31) and before the load (step 37), so eth0 takes KM_USER0 under the writer.
    choices, res = shrink(sc, cfg, [(32, IRQ), (60, "run bystander@1")], "stale-access")
    assert choices == [(32, IRQ)]
    assert (res.injections, res.preemptions) == (1, 0)
    assert [f.kind for f in res.findings] == ["stale-access"]


def test_shrink_refuses_a_schedule_that_does_not_fail(irq_slot: tuple[object, object]) -> None:
    """Shrinking a schedule that does not show the kind is an error: the finding does not reproduce."""
    sc, cfg = irq_slot
    with pytest.raises(HighmemError) as e:
        shrink(sc, cfg, [], "stale-access")
    assert str(e.value) == ("scenario irq-uses-user-slot: the stale-access schedule does not reproduce; is the "
                            "scenario deterministic?")
