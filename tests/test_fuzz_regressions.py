"""Regression tests for the interesting inputs the fuzz campaigns found.

``fuzz_regressions/*.toml`` are scenario files (each says where it came from).  Those the
loader or a run handles well are pinned to the exact one-sentence error they produce now.
Those that reveal a bug in ``src`` are written as they *should* behave and marked
``xfail(strict=True)``: when the bug is fixed the test passes, strict makes the suite notice,
and the xfail mark and the matching entry in ``fuzz_support`` must go.  The CLI inputs (paths,
option values, mutated schedule and trace files) are built here, against a real ``--out`` run.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from fuzz_support import time_limit
from highmem.cli import main
from highmem.errors import HighmemError
from highmem.scenarios import load_toml_text
from highmem.sim.explore import explore

HERE = Path(__file__).parent / "fuzz_regressions"


def text_of(name: str) -> str:
    return (HERE / f"{name}.toml").read_text(encoding="utf-8")


def load_and_run(name: str, seconds: float = 3.0) -> None:
    """Load ``name`` as ``NAME.toml`` and explore 2 random schedules, under a time limit."""
    with time_limit(seconds):
        sc = load_toml_text(text_of(name), f"{name}.toml")
        explore(sc, sc.config(), strategy="random", schedules=2, do_shrink=False)


# -- inputs handled well: the exact sentence ---------------------------------------------------------------
OPS = ("cli, complete, copy, exit, flush_tlb_all, flush_tlb_one, kmap, kmap_atomic, kmap_local_page, kmap_nonblock, "
       "kunmap, kunmap_atomic, kunmap_local, load, local_bh_disable, local_bh_enable, local_irq_restore, "
       "local_irq_save, page_address, raise_irq, raise_softirq, repeat, restore_flags, save_flags, schedule, sleep, "
       "spin_lock, spin_lock_irq, spin_unlock, spin_unlock_irq, sti, store, submit_bh, wait_for_completion, "
       "wait_on_buffer, wake, work")
PINNED = {
    "truncated-table-header": "truncated-table-header.toml:5: TOML syntax error: Expected ']]' at the end of an "
                              "array declaration (at line 5, column 7)",
    "raise-device-irq": "raise-device-irq.toml:8: raise_irq names 'ide0', a device's interrupt line: the device "
                        "raises it when a request completes",
    "task-cpu-boolean": "task-cpu-boolean.toml:2: [[task]] t cpu must be an integer, not True",
    "op-name-integer": f"op-name-integer.toml:4: unknown operation 5: operations are {OPS}",
    "empty-fill": "empty-fill.toml:3: page lo fill is empty",
    "scenario-not-a-table": "scenario-not-a-table.toml: [scenario] must be a table, written [scenario]",
    "load-out-of-range": "load-out-of-range.toml:9: load of 100000000000 bytes is too large: one access moves at "
                         "most 16777216 bytes",
    "kmap-local-on-2.4": "scenario kmap-local-on-2.4: kmap_local_page does not exist in profile linux-2.4: it came "
                         "in Linux 5.11; use --profile linux-5.11 or kmap_atomic",
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_regression_pinned_message(name: str) -> None:
    """The input is refused with exactly this one sentence (a HighmemError, exit 2 in the CLI)."""
    with pytest.raises(HighmemError) as e:
        load_and_run(name)
    assert str(e.value) == PINNED[name]
    assert "\n" not in str(e.value)


# -- src bugs, as they should behave --------------------------------------------------------------------------
LOADER_BUGS = {
    "unhashable-op": "the loader uses an op name given as an array as a dict key before checking its type: "
                     "TypeError: unhashable type: 'list'",
    "unhashable-zone": "the loader tests `zone not in _ZONES` before checking the zone is a string: TypeError",
    "unhashable-expect-page": "the loader tests `ex.get('page') not in page_names` before checking it is a string: "
                              "TypeError",
    "unhashable-expect-block-device": "the loader calls devices.get() with the [[expect_block]] device before "
                                      "checking it is a string: TypeError",
}


@pytest.mark.parametrize("name", sorted(LOADER_BUGS))
def test_regression_name_field_of_wrong_type(name: str, request: pytest.FixtureRequest) -> None:
    """A name field (op, zone, [[expect]] page, [[expect_block]] device) that is an array or a table is
    refused with a one-sentence HighmemError naming the file and line, like every other type error."""
    with pytest.raises(HighmemError, match=rf"^{name}\.toml:\d+: "):
        load_toml_text(text_of(name), f"{name}.toml")


@pytest.mark.parametrize("name", ["repeat-without-steps", "repeat-work-zero-steps"])
def test_regression_repeat_without_steps_ends(name: str) -> None:
    """A repeat that takes no steps is refused by the loader, or its run ends (step budget) as a HighmemError."""
    with pytest.raises(HighmemError):
        load_and_run(name, seconds=2.0)


def test_regression_store_repeat_is_bounded() -> None:
    """A store far larger than the address space is a HighmemError (at load or at run time), not a MemoryError."""
    with pytest.raises(HighmemError):
        load_and_run("store-repeat-huge")


@pytest.mark.parametrize("name", ["bh-used-as-address", "address-used-as-bh"])
def test_regression_variable_of_the_wrong_kind(name: str) -> None:
    """Using a buffer_head as an address, or an address as a buffer_head, is bad input: a HighmemError."""
    with pytest.raises(HighmemError, match=rf"^{name}\.toml:\d+: "):
        load_and_run(name)


def test_regression_max_steps_must_be_positive() -> None:
    """[scenario] max_steps below 1 is refused by the loader, naming the field and its line."""
    with pytest.raises(HighmemError, match=r"^max-steps-negative\.toml:\d+: .*max_steps"):
        load_toml_text(text_of("max-steps-negative"), "max-steps-negative.toml")


# -- the command line ---------------------------------------------------------------------------------------
def run_cli(argv: list[str], seconds: float = 30.0) -> tuple[Any, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), time_limit(seconds):
        try:
            rc: Any = main(argv)
        except SystemExit as e:
            rc = ("exit", e.code)
    return rc, out.getvalue(), err.getvalue()


def one_sentence(err: str) -> bool:
    return err.startswith("highmem: ") and err.endswith("\n") and err.count("\n") == 1 and "Traceback" not in err


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real schedule and trace (check --out) to mutate."""
    d = tmp_path_factory.mktemp("regressions")
    rc, _, _ = run_cli(["check", "irq-uses-user-slot", "--schedules", "100", "--out", str(d / "out"), "-q"])
    assert rc == 1
    return d


def test_regression_out_is_an_existing_file(tmp_path: Path) -> None:
    """check --out naming an existing file: exit 2 with one sentence."""
    f = tmp_path / "taken"
    f.write_text("x")
    rc, _, err = run_cli(["check", "irq-uses-user-slot", "--schedules", "100", "--out", str(f)])
    assert rc == 2 and one_sentence(err), err


def test_regression_out_below_a_file(tmp_path: Path) -> None:
    """check --out FILE/sub: exit 2 with one sentence."""
    f = tmp_path / "taken"
    f.write_text("x")
    rc, _, err = run_cli(["check", "irq-uses-user-slot", "--schedules", "100", "--out", str(f / "sub")])
    assert rc == 2 and one_sentence(err), err


def test_regression_huge_pct_depth() -> None:
    """check --depth 10**11: refused (exit 2) or explored, but promptly."""
    rc, _, err = run_cli(["check", "copy-highpage", "--schedules", "1", "--depth", "100000000000"], seconds=2.0)
    assert rc in (0, 1) or (rc == 2 and one_sentence(err)), (rc, err)


def test_regression_compare_depth_zero() -> None:
    """compare --depth 0 is bad input, worded as check words it."""
    rc, _, err = run_cli(["compare", "copy-highpage", "--schedules", "1", "--depth", "0"])
    assert (rc, err) == (2, "highmem: --depth 0 is invalid: the PCT bug depth is at least 1\n")


def test_regression_compare_unknown_option_everywhere() -> None:
    """compare --config NOPE=y, an option of no profile at all: exit 2 with one sentence."""
    rc, _, err = run_cli(["compare", "copy-highpage", "--schedules", "1", "--config", "NOPE=y"])
    assert rc == 2 and one_sentence(err) and "NOPE" in err, (rc, err)


REPLAY_BUGS = {
    "config-int": ({"config": 5}, "TypeError: 'int' object is not iterable"),
    "config-list-of-int": ({"config": [5]}, "TypeError: argument of type 'int' is not iterable"),
    "finding-string": ({"finding": "stale-access"}, "AttributeError: 'str' object has no attribute 'get'"),
    "finding-null": ({"finding": None}, "AttributeError: 'NoneType' object has no attribute 'get'"),
}


@pytest.mark.parametrize("case", sorted(REPLAY_BUGS))
def test_regression_replay_malformed_fields(recorded: Path, tmp_path: Path, case: str,
                                            request: pytest.FixtureRequest) -> None:
    """A schedule file whose config or finding has the wrong type: exit 2, one sentence naming the file."""
    patch, crash = REPLAY_BUGS[case]
    doc = json.loads((recorded / "out" / "irq-uses-user-slot.stale-access.schedule.json").read_text())
    doc.update(patch)
    f = tmp_path / f"{case}.schedule.json"
    f.write_text(json.dumps(doc))
    rc, _, err = run_cli(["check", "--replay", str(f)])
    assert rc == 2 and one_sentence(err) and str(f) in err, (rc, err)


def test_regression_replay_config_string(recorded: Path, tmp_path: Path) -> None:
    """A schedule whose config is a string, not a list: refused naming the file, not its first letter."""
    doc = json.loads((recorded / "out" / "irq-uses-user-slot.stale-access.schedule.json").read_text())
    doc["config"] = "DEBUG_HIGHMEM=y"
    f = tmp_path / "config-string.schedule.json"
    f.write_text(json.dumps(doc))
    rc, _, err = run_cli(["check", "--replay", str(f)])
    assert rc == 2 and one_sentence(err) and str(f) in err and "'D'" not in err, (rc, err)


def test_regression_replay_ignores_profile(recorded: Path) -> None:
    """check --replay FILE --profile linux-5.11: either replayed on linux-5.11 or refused (exit 2), not silently 2.4."""
    f = recorded / "out" / "irq-uses-user-slot.stale-access.schedule.json"
    rc, out, err = run_cli(["check", "--replay", str(f), "--profile", "linux-5.11"])
    assert (rc == 2 and one_sentence(err)) or "on linux-5.11" in out, (rc, out, err)


def _trace_with(recorded: Path, tmp_path: Path, header: dict[str, Any] | None = None,
                record: dict[str, Any] | None = None) -> Path:
    lines = (recorded / "out" / "irq-uses-user-slot.stale-access.trace.jsonl").read_text().splitlines()
    if header:
        h = json.loads(lines[0])
        h.update(header)
        lines[0] = json.dumps(h)
    if record:
        r = json.loads(lines[5])
        r.update(record)
        lines[5] = json.dumps(r)
    f = tmp_path / "mutated.trace.jsonl"
    f.write_text("\n".join(lines) + "\n")
    return f


def test_regression_report_huge_cpu_count(recorded: Path, tmp_path: Path) -> None:
    """report of a trace whose header claims 10**6 CPUs: refused (exit 2) or rendered, promptly."""
    f = _trace_with(recorded, tmp_path, header={"cpus": 1_000_000})
    rc, _, err = run_cli(["report", str(f), "-o", str(tmp_path / "r.html")], seconds=3.0)
    assert rc == 0 or (rc == 2 and one_sentence(err)), (rc, err)


def test_regression_report_huge_step(recorded: Path, tmp_path: Path) -> None:
    """report of a trace with a record at step 10**15: exit 2 with one sentence (or rendered), no MemoryError."""
    f = _trace_with(recorded, tmp_path, record={"step": 10**15})
    rc, _, err = run_cli(["report", str(f), "-o", str(tmp_path / "r.html")], seconds=5.0)
    assert rc == 0 or (rc == 2 and one_sentence(err)), (rc, err)
