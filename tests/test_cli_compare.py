"""`highmem compare` and the historical built-in scenarios, one per real bug of kernel-facts.md section 5.

Expected kinds per generation follow the spec: 2.4.22 silently hands an atomic slot to whoever maps it
next (include/asm-i386/highmem.h: set_pte without a check), 2.6.32 BUGs on a busy slot unconditionally
(arch/x86/mm/highmem_32.c kmap_atomic_prot), and the stack generations (2.6.39, 5.15) give a nested
interrupt its own slot.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from highmem.cli import main
from highmem.profiles import PROFILE_NAMES
from highmem.scenarios import load_builtin
from highmem.sim.explore import explore

HISTORICAL = ["km-irq-collision-2005", "sleep-with-km-held-2.5.40", "kunmap-pop-before-clear-2010",
              "kmap-local-preempt", "kmap-local-wrong-order", "kmap-high-ipi-deadlock-2024"]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        rc = main(argv)
    except SystemExit as e:
        rc = int(e.code)  # type: ignore[arg-type]
    out, err = capsys.readouterr()
    return rc, out, err


def _cells(doc: dict[str, Any], scenario: str) -> dict[str, dict[str, Any]]:
    return {r["profile"]: r for r in doc["results"] if r["scenario"] == scenario}


def test_cli_compare_irq_uses_user_slot_json(capsys: pytest.CaptureFixture[str]) -> None:
    """irq-uses-user-slot on every generation (30 PCT schedules, seed 0): exit 1 (findings); 2.6.32 BUGs in
    the handler on the busy KM_USER0 slot (arch/x86/mm/highmem_32.c kmap_atomic_prot, unconditional
    BUG_ON) in one of 30; 2.6.39's stack (include/linux/highmem.h) and 5.15's per-task stack nest the
    interrupt above the task: clean.  2.4.22's silent takeover needs the interrupt inside a 6-step window,
    so 30 schedules may or may not reach it (see the 100-schedule test)."""
    rc, out, err = _run(["compare", "irq-uses-user-slot", "--schedules", "30", "--json"], capsys)
    assert (rc, err) == (1, "")
    doc = json.loads(out)
    assert doc["profiles"] == list(PROFILE_NAMES) == ["linux-2.4", "linux-2.6", "linux-2.6.37", "linux-5.11"]
    assert doc["scenarios"] == ["irq-uses-user-slot"]
    assert (doc["strategy"], doc["seed"], doc["schedules"]) == ("pct", 0, 30)
    assert [r["profile"] for r in doc["results"]] == list(PROFILE_NAMES)
    cells = _cells(doc, "irq-uses-user-slot")
    assert all(c["status"] == "ok" and c["schedules"] == 30 and "reason" not in c for c in cells.values())
    assert set(cells["linux-2.4"]["kinds"]) <= {"stale-access", "data-mismatch"}
    assert cells["linux-2.6"]["kinds"] == ["slot-in-use"]
    assert cells["linux-2.6.37"]["kinds"] == []
    assert cells["linux-5.11"]["kinds"] == []
    for c in cells.values():
        assert sorted(c["counts"]) == c["kinds"]
        assert sorted(f["kind"] for f in c["findings"]) == c["kinds"]


def test_cli_compare_irq_uses_user_slot_all_generations(capsys: pytest.CaptureFixture[str]) -> None:
    """With 100 PCT schedules (seed 0) each generation shows its own outcome: 2.4.22 stale-access and
    data-mismatch (include/asm-i386/highmem.h kmap_atomic replaces the PTE silently), 2.6.32 slot-in-use,
    2.6.39 and 5.15 clean."""
    rc, out, _ = _run(["compare", "irq-uses-user-slot", "--schedules", "100", "--json"], capsys)
    assert rc == 1
    cells = _cells(json.loads(out), "irq-uses-user-slot")
    assert {p: c["kinds"] for p, c in cells.items()} == {
        "linux-2.4": ["data-mismatch", "stale-access"],
        "linux-2.6": ["slot-in-use"],
        "linux-2.6.37": [],
        "linux-5.11": [],
    }
    f24 = next(f for f in cells["linux-2.4"]["findings"] if f["kind"] == "stale-access")
    assert f24["contexts"][0] == "writer" and f24["contexts"][1].startswith("eth0#")
    f26 = cells["linux-2.6"]["findings"][0]
    # 2.6.32: KM_USER0 = 3, FIX_KMAP_BEGIN 69 -> fixmap 72, 0xfffff000 - 72 * 4096 = 0xfffb7000
    assert f26["message"].endswith("kernel BUG in kmap_atomic_prot: slot KM_USER0 of CPU 0 (fixmap 72, 0xfffb7000) "
                                   "is already mapped")


def test_cli_compare_na_cells_carry_a_reason(capsys: pytest.CaptureFixture[str]) -> None:
    """5.15 mm/highmem.c kmap_local_page and CONFIG_PREEMPT exist only in later generations: kmap-local-preempt
    is n/a on 2.4 (no PREEMPT option), 2.6 and 2.6.37 (no kmap_local_page), each with a one-sentence reason;
    clean on 5.11; nothing found anywhere, so exit 0."""
    rc, out, err = _run(["compare", "kmap-local-preempt", "--schedules", "10", "--json"], capsys)
    assert (rc, err) == (0, "")
    cells = _cells(json.loads(out), "kmap-local-preempt")
    assert {p: c["status"] for p, c in cells.items()} == {"linux-2.4": "n/a", "linux-2.6": "n/a",
                                                          "linux-2.6.37": "n/a", "linux-5.11": "ok"}
    assert cells["linux-2.4"]["reason"] == ("config option 'PREEMPT' does not apply to profile linux-2.4: 2.4 has "
                                            "no preemptible kernel: use linux-2.6 or later")
    for p in ("linux-2.6", "linux-2.6.37"):
        assert cells[p]["reason"] == (f"scenario kmap-local-preempt: kmap_local_page does not exist in profile {p}: "
                                      "it came in Linux 5.11; use --profile linux-5.11 or kmap_atomic")
    for c in cells.values():
        if c["status"] == "n/a":
            assert (c["kinds"], c["counts"], c["findings"], c["schedules"]) == ([], {}, [], 0)
    assert cells["linux-5.11"]["kinds"] == [] and "reason" not in cells["linux-5.11"]


def test_cli_compare_na_reasons_in_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    """The table form prints one 'n/a: scenario on profile: reason' sentence per n/a cell (rich wraps it at
    120 columns, so compare with whitespace normalised)."""
    rc, out, _ = _run(["compare", "kmap-local-preempt", "--schedules", "5", "--profiles", "linux-2.4,linux-5.11"],
                      capsys)
    assert rc == 0
    text = " ".join(out.split())
    assert text.count("n/a: ") == 1
    assert ("n/a: kmap-local-preempt on linux-2.4: config option 'PREEMPT' does not apply to profile linux-2.4: 2.4 "
            "has no preemptible kernel: use linux-2.6 or later") in text


def test_cli_compare_unknown_profile_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """Only the four modelled generations exist: --profiles linux-2.4,linux-9 exits 2 with one line."""
    rc, out, err = _run(["compare", "irq-uses-user-slot", "--profiles", "linux-2.4,linux-9"], capsys)
    assert (rc, out) == (2, "")
    assert err == ("highmem: profile 'linux-9' does not exist: available profiles are linux-2.4, linux-2.6, "
                   "linux-2.6.37, linux-5.11\n")


def test_cli_compare_profiles_subset(capsys: pytest.CaptureFixture[str]) -> None:
    """--profiles keeps the given order and only those columns."""
    rc, out, _ = _run(["compare", "km-irq-collision-2005", "--profiles", "linux-2.6.37,linux-2.6",
                       "--schedules", "100", "--json"], capsys)
    doc = json.loads(out)
    assert doc["profiles"] == ["linux-2.6.37", "linux-2.6"]
    assert [(r["profile"], r["kinds"]) for r in doc["results"]] == [("linux-2.6.37", []),
                                                                    ("linux-2.6", ["slot-in-use"])]
    assert rc == 1


def test_cli_compare_historical_builtins_have_references(capsys: pytest.CaptureFixture[str]) -> None:
    """Every historical scenario names its source (LKML thread or commit of kernel-facts 5) in `highmem scenarios
    --json`, and lists the kinds it is known to produce."""
    rc, out, _ = _run(["scenarios", "--json"], capsys)
    assert rc == 0
    rows = {r["name"]: r for r in json.loads(out)["scenarios"]}
    for name in HISTORICAL:
        assert rows[name]["reference"].strip(), name
    assert "Tsirkin" in rows["km-irq-collision-2005"]["reference"]
    assert "Richter" in rows["sleep-with-km-held-2.5.40"]["reference"]
    assert "20273941f212" in rows["kunmap-pop-before-clear-2010"]["reference"]
    assert "zhangchun" in rows["kmap-high-ipi-deadlock-2024"]["reference"]
    assert {n: rows[n]["expect"] for n in HISTORICAL} == {
        "km-irq-collision-2005": ["slot-in-use"],
        "sleep-with-km-held-2.5.40": ["sleep-in-atomic", "slot-in-use"],
        "kunmap-pop-before-clear-2010": ["slot-in-use"],
        "kmap-local-preempt": [],
        "kmap-local-wrong-order": ["unmap-order"],
        "kmap-high-ipi-deadlock-2024": ["deadlock"],
    }


@pytest.mark.parametrize("name", HISTORICAL)
def test_cli_compare_historical_builtin_gives_its_expected_kinds(name: str) -> None:
    """kernel-facts 5.1-5.4 and 4: each historical scenario, on its own profile, with 100 PCT schedules (seed 0),
    produces exactly the finding kinds it declares (none for the correct kmap-local-preempt)."""
    sc = load_builtin(name)
    ex = explore(sc, sc.config(), strategy="pct", schedules=100, seed=0, do_shrink=False)
    assert ex.schedules == 100
    assert sorted(ex.counts) == sorted(sc.expect)


def test_cli_compare_ipi_deadlock_message() -> None:
    """kernel-facts 5.4 (2.4.22 mm/highmem.c flush_all_zero_pkmaps -> flush_tlb_all -> smp_call_function):
    CPU 0 holds kmap_lock and waits for the CALL_FUNCTION_VECTOR IPI; CPU 1 spins on kmap_lock with interrupts
    disabled and never takes it.  The deadlock finding names both spinning contexts, says CPU 1 has interrupts
    disabled, and names the IPI pending on CPU 1."""
    sc = load_builtin("kmap-high-ipi-deadlock-2024")
    ex = explore(sc, sc.config(), strategy="pct", schedules=100, seed=0)
    f = ex.by_kind["deadlock"].finding
    assert f.contexts == ["wrapper", "irqs-off"]
    assert f.cpu is None
    m = re.fullmatch(
        r"nothing can run and 2 contexts wait: "
        r"wrapper on CPU 0 spins in smp_call_function waiting for CALL_FUNCTION_VECTOR since step (\d+); "
        r"irqs-off on CPU 1 spins in spin_lock\(kmap_lock\) held by wrapper since step (\d+) with interrupts "
        r"disabled; undeliverable: CALL_FUNCTION_VECTOR pending on CPU 1", f.message)
    assert m is not None, f.message
    assert f.steps[:2] == sorted([int(m.group(1)), int(m.group(2))])
    # CPU 0's context waits with interrupts enabled: only CPU 1's is said to have them disabled
    assert f.message.count("with interrupts disabled") == 1
