"""Determinism at scale: 1,000 random schedules, each replayed from its recorded choices.

For five built-ins (200 schedules each; half random walks, half PCT) every schedule runs once
with a trace recorder; its fingerprint is the SHA-256 of the trace records (``json.dumps``
with sorted keys), the run's choices, status, steps and findings.  Then each schedule is
replayed from its sparse choices alone (``SparseReplayStrategy(choices, strict=True)``) on a
freshly loaded copy of the scenario, and the fingerprints must be equal - all 1,000 of them.
(``bounce-io`` is left out: one run of it takes a quarter of a second.)
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from highmem.scenarios import load_builtin
from highmem.sim.explore import pct_k, run_once, schedule_seed
from highmem.sim.strategy import PCTStrategy, RandomStrategy, SparseReplayStrategy, Strategy

SCENARIOS = ["irq-uses-user-slot", "sleep-holding-kmap", "copy-highpage", "bounce-read-wrong-slot",
             "pkmap-exhaustion"]
PER_SCENARIO = 200
SEED = 20240611


def fingerprint(res: Any, rec: Any) -> str:
    """SHA-256 over the trace records and everything the run decided."""
    blob = json.dumps({
        "trace": rec.records,
        "choices": [list(c) for c in res.choices],
        "status": res.status, "steps": res.steps, "points": res.points, "stop": res.stop_reason,
        "findings": [f.to_dict() for f in res.findings],
    }, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _strategy(i: int, k: int) -> Strategy:
    s = schedule_seed(SEED, i)
    return RandomStrategy(s) if i % 2 == 0 else PCTStrategy(s, 2 + i % 3, k)


@pytest.mark.parametrize("name", SCENARIOS)
def test_replay_reproduces_trace_hashes(name: str) -> None:
    """200 schedules of the scenario: each replay from its recorded choices has the original's trace hash."""
    sc = load_builtin(name)
    cfg = sc.config()
    k = pct_k(sc, cfg)
    originals: list[tuple[list[tuple[int, str]], str]] = []
    for i in range(PER_SCENARIO):
        res, rec = run_once(sc, cfg, _strategy(i, k), trace=True)
        assert rec.records, f"{name} schedule {i} recorded no events"
        originals.append((list(res.choices), fingerprint(res, rec)))

    fresh = load_builtin(name)
    assert fresh.digest == sc.digest
    mismatches = []
    for i, (choices, want) in enumerate(originals):
        res, rec = run_once(fresh, fresh.config(), SparseReplayStrategy(choices, strict=True), trace=True)
        if list(res.choices) != choices or fingerprint(res, rec) != want:
            mismatches.append(i)
    assert not mismatches, f"{name}: {len(mismatches)} of {PER_SCENARIO} replays differ, first schedule {mismatches[0]}"
    # The schedules really differ from one another (else this would test one run 200 times).
    assert len({h for _, h in originals}) > 1
    assert len({tuple(c) for c, _ in originals}) > 1


def test_replay_total_is_one_thousand() -> None:
    """The campaign above covers 1,000 schedules in all."""
    assert len(SCENARIOS) * PER_SCENARIO == 1000
