"""Version-2 recording: the sampler changes nothing the run does, and its state records say what the
machine held (PTEs and TLB entries checked against the events, preempt counts, locks, IPIs)."""

from __future__ import annotations

from typing import Any

import pytest

from highmem.report.timeline_model import STATE_KINDS
from highmem.report.trace_record import record_run
from highmem.scenarios import load_builtin
from highmem.sim.explore import run_once
from highmem.sim.strategy import DefaultStrategy, PCTStrategy


def _record(name: str, strategy: Any = None) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
    sc = load_builtin(name)
    return record_run(sc, sc.config(None, []), strategy or DefaultStrategy())


@pytest.mark.parametrize("name", ["irq-uses-user-slot", "km-irq-collision-2005", "kmap-local-preempt",
                                  "kmap-high-ipi-deadlock-2024", "pkmap-exhaustion"])
def test_sampling_changes_nothing(name: str) -> None:
    """The same schedule, steps, findings and events as an unsampled recorded run."""
    sc = load_builtin(name)
    cfg = sc.config(None, [])
    for strat in (lambda: DefaultStrategy(), lambda: PCTStrategy(7, 2, 200)):
        res, records, header = record_run(sc, cfg, strat())
        plain, rec = run_once(sc, cfg, strat(), trace=True)
        assert (res.steps, res.choices, res.status) == (plain.steps, plain.choices, plain.status)
        assert [f.to_dict() for f in res.findings] == [f.to_dict() for f in plain.findings]
        assert [r for r in records if r["kind"] not in STATE_KINDS] == rec.records
        assert header["version"] == 2 and header["slots"]
        steps = [r["step"] for r in records]
        assert steps == sorted(steps)


def test_slot_state_follows_set_pte_and_the_tlb() -> None:
    """At every step, a slot's PTE is the last set_pte/pte_clear of its address and its TLB entry the
    last fill (dropped by a flush of that CPU)."""
    _res, records, header = _record("irq-uses-user-slot")
    slots = {s[3]: (s[0], s[1]) for s in header["slots"]}
    pte: dict[int, int] = {}
    tlb: dict[int, int] = {}
    state: dict[int, tuple[int, int]] = {}
    checked = 0
    last_step = -1
    for r in records:
        if r["step"] != last_step:
            # Compare what the state records say at the end of each step with what the events imply.
            for idx, (p, t) in state.items():
                va = next(v for v, (_c, i) in slots.items() if i == idx)
                assert (p, t) == (pte.get(va, 0), tlb.get(va, -1)), (last_step, idx)
                checked += 1
            last_step = r["step"]
        k = r["kind"]
        if k == "slot_state":
            state[r["idx"]] = (r["pte"], r["tlb"])
        elif k == "set_pte" and r["vaddr"] in slots:
            pte[r["vaddr"]] = r["new"]
        elif k == "pte_clear" and r["vaddr"] in slots:
            pte[r["vaddr"]] = 0
        elif k == "tlb_fill" and r["vaddr"] in slots and slots[r["vaddr"]][0] == r["cpu"]:
            tlb[r["vaddr"]] = r["pfn"]
        elif k == "tlb_flush_one" and r["vaddr"] in slots and slots[r["vaddr"]][0] == r["cpu"]:
            tlb.pop(r["vaddr"], None)
        elif k == "tlb_flush_all" and r["include_global"]:
            for va, (c, _i) in slots.items():
                if c == r["cpu"]:
                    tlb.pop(va, None)
    assert checked > 50
    mapped = [r for r in records if r["kind"] == "slot_state" and r["idx"] == 3 and r["pte"]]
    assert mapped[0]["pte"] >> 12 == 0x38000 and mapped[0]["tlb"] == -1   # mapped, not yet touched


def test_cpu_state_preempt_count_in_2_6_kmap_atomic() -> None:
    """2.6's kmap_atomic disables preemption: the preempt count is 1 while a slot is held, 0 after."""
    _res, records, _h = _record("km-irq-collision-2005")
    km = next(r for r in records if r["kind"] == "kmap_atomic")
    un = next(r for r in records if r["kind"] == "kunmap_atomic" and r["context"] == km["context"])
    during = [r for r in records if r["kind"] == "cpu_state" and r["cpu"] == km["cpu"]
              and km["step"] <= r["step"] < un["step"]]
    assert during and during[0]["preempt"] >= 1
    after = [r for r in records if r["kind"] == "cpu_state" and r["cpu"] == km["cpu"] and r["step"] >= un["step"]]
    assert after and after[-1]["preempt"] == 0


def test_cpu_state_locks_and_ipis_of_the_kmap_high_deadlock() -> None:
    """The 2024 kmap_high deadlock, as its state records show it: at the end CPU 0 holds kmap_lock and
    call_lock while CPU 1, interrupts off, has the TLB-flush IPI pending."""
    from highmem.sim.explore import explore
    from highmem.sim.hooks import IPI_NAME
    from highmem.sim.strategy import SparseReplayStrategy

    sc = load_builtin("kmap-high-ipi-deadlock-2024")
    cfg = sc.config(None, [])
    rep = explore(sc, cfg, strategy="pct", schedules=20).by_kind["deadlock"]
    res, records, _h = record_run(sc, cfg, SparseReplayStrategy(rep.choices))
    assert res.status == "deadlocked"
    states = [r for r in records if r["kind"] == "cpu_state"]
    assert all(r["ipis"] == r["pending"].count(IPI_NAME) for r in states)
    last = {r["cpu"]: r for r in states}
    assert last[0]["locks"] == ["call_lock", "kmap_lock"] and last[0]["step"] == res.steps
    assert (last[1]["irq_enabled"], last[1]["ipis"], last[1]["pending"]) == (False, 1, [IPI_NAME])
    assert last[1]["spinning"].startswith("spin_lock(kmap_lock)") and "smp_call_function" in last[0]["spinning"]
    pk = [r for r in records if r["kind"] == "pkmap_state"]
    assert pk[0] == {"step": 0, "kind": "pkmap_state", "free": pk[0]["free"], "used": 0, "unflushed": 0}
    assert pk[0]["free"] == _h["last_pkmap"]
