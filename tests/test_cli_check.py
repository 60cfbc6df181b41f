"""`highmem check` and `highmem scenarios`: exit statuses, JSON reports, built-in expectations, bad options."""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from highmem.cli import main
from highmem.scenarios import builtin_names

ORIGINAL = ["bounce-read-irq", "copy-highpage", "exit-holding-kmap", "irq-uses-user-slot", "sleep-holding-kmap"]


def _declared_expect(name: str) -> list[str]:
    """The [scenario] expect of a built-in, read straight from its TOML file ("clean" is none)."""
    text = (resources.files("highmem.scenarios") / "builtin" / f"{name}.toml").read_text(encoding="utf-8")
    exp = tomllib.loads(text)["scenario"].get("expect", [])
    return [] if exp == "clean" else sorted(exp)


def _main(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as e:  # argparse's own errors
        return int(e.code or 0)


@pytest.fixture(scope="module")
def check_all_default() -> dict[str, Any]:
    """`highmem check --json`: every built-in, default pct strategy, 100 schedules each."""
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["check", "--json"])
    return {"rc": rc, "doc": json.loads(buf.getvalue())}


def test_cli_check_json_all_builtins(capsys: pytest.CaptureFixture[str]) -> None:
    """check --json --schedules 20 over every built-in exits 1 and prints one JSON object with a run per scenario."""
    assert main(["check", "--json", "--schedules", "20"]) == 1
    doc = json.loads(capsys.readouterr().out)
    names = builtin_names()
    assert set(ORIGINAL) <= set(names)
    assert [r["scenario"] for r in doc["runs"]] == names
    for r in doc["runs"]:
        assert r["schedules"] == 20 and r["steps"] > 0 and r["strategy"] == "pct"
        assert isinstance(r["findings"], list)
        for f in r["findings"]:
            assert isinstance(f["kind"], str) and isinstance(f["message"], str) and f["message"]
    assert doc["schedules"] == 20 * len(names)
    assert doc["steps"] == sum(r["steps"] for r in doc["runs"])


def test_cli_check_exit_status_one_means_findings(check_all_default: dict[str, Any]) -> None:
    """check of every built-in exits 1: some built-ins are designed to fail."""
    assert check_all_default["rc"] == 1
    assert check_all_default["doc"]["schedules"] == 100 * len(builtin_names())


@pytest.mark.parametrize("name", builtin_names())
def test_cli_check_builtin_finds_declared_kinds(check_all_default: dict[str, Any], name: str) -> None:
    """With pct and 100 schedules each built-in finds exactly the kinds its [scenario] expect declares."""
    [run] = [r for r in check_all_default["doc"]["runs"] if r["scenario"] == name]
    found = sorted({f["kind"] for f in run["findings"]})
    assert found == _declared_expect(name) == run["expected"]
    assert sorted(run["counts"]) == found


def test_cli_check_correct_builtins_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    """check of the two correct built-ins exits 0 and reports no findings."""
    assert main(["check", "copy-highpage", "bounce-read-irq", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["scenario"] for r in doc["runs"]] == ["copy-highpage", "bounce-read-irq"]
    assert all(r["findings"] == [] and r["counts"] == {} for r in doc["runs"])


def test_cli_check_single_scenario_json_is_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    """With one scenario the JSON object is that run itself, with its shrunk finding and schedule."""
    assert main(["check", "exit-holding-kmap", "--json", "--schedules", "5"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["scenario"] == "exit-holding-kmap" and doc["schedules"] == 5
    [f] = doc["findings"]
    assert f["kind"] == "exit-in-atomic"
    assert f["message"].startswith("quitter exited on CPU 0 holding slot KM_USER0 of CPU 0 (fixmap 3, 0xffffb000)")
    assert f["schedule"] == []  # found by the default schedule: nothing to choose


def test_cli_check_text_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The text report names each finding with its message and how to replay its schedule file."""
    assert main(["check", "exit-holding-kmap", "--schedules", "3", "--out", str(tmp_path)]) == 1
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long lines at 120 columns when piped
    assert "exit-in-atomic" in out
    assert "quitter exited on CPU 0 holding slot KM_USER0" in out
    assert f"replay: highmem check --replay {tmp_path / 'exit-holding-kmap.exit-in-atomic.schedule.json'}" in out


def test_cli_scenarios_json(capsys: pytest.CaptureFixture[str]) -> None:
    """scenarios --json lists every built-in by name, sorted, with its declared expect."""
    assert main(["scenarios", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["scenarios"]
    names = [r["name"] for r in rows]
    assert names == sorted(names) == builtin_names()
    assert set(ORIGINAL) <= set(names)
    for r in rows:
        assert r["expect"] == _declared_expect(r["name"])
        assert r["description"] and r["profile"] in ("linux-2.4", "linux-2.6", "linux-2.6.37", "linux-5.11")


@pytest.mark.parametrize(("argv", "message"), [
    (["check", "exit-holding-kmap", "--strategy", "foo"],
     "strategy 'foo' does not exist: choose random, pct, exhaustive or dpor"),
    (["check", "exit-holding-kmap", "--schedules", "0"], "--schedules 0 is invalid: explore at least one schedule"),
    (["check", "exit-holding-kmap", "--depth", "0"], "--depth 0 is invalid: the PCT bug depth is at least 1"),
    (["check", "exit-holding-kmap", "--config", "NOPE=y"], None),
    (["check", "no-such-scenario"], "scenario 'no-such-scenario' is not built in and is not a file: "),
    (["check", "exit-holding-kmap", "--schedules", "many"], None),
])
def test_cli_check_bad_options_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str | None
                                      ) -> None:
    """Bad options exit 2 with one 'highmem: ' line on stderr and nothing on stdout."""
    assert _main(argv) == 2
    cap = capsys.readouterr()
    assert cap.out == ""
    assert cap.err.startswith("highmem: ") and cap.err.count("\n") == 1 and "Traceback" not in cap.err
    if message is not None:
        assert cap.err.startswith(f"highmem: {message}")


def test_cli_check_missing_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A scenario file that does not exist exits 2 naming the file."""
    path = tmp_path / "missing.toml"
    assert main(["check", str(path)]) == 2
    assert capsys.readouterr().err == (f"highmem: scenario file {str(path)!r} does not exist: name a built-in or an "
                                       "existing file\n")


def test_cli_check_dpor_verdict_says_what_was_proved(capsys: pytest.CaptureFixture[str]) -> None:
    """A DPOR check that ends says every interleaving within the bounds was covered; one that a
    --schedules limit cuts says so, how to finish it, and that its schedules are no sample."""
    bounds = "at most 2 preemptions of a task by another on its CPU, at most 2 optional interrupt arrivals"
    assert _main(["check", "kmap-local-wrong-order", "--strategy", "dpor", "-q"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == (
        "kmap-local-wrong-order: exhausted: every interleaving within the bounds (1 schedule, at least one of "
        f"every class of equivalent ones; bounds: {bounds})")
    assert _main(["check", "pkmap-exhaustion", "--strategy", "dpor", "--schedules", "3", "-q"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"pkmap-exhaustion: not exhausted: the limit of 3 schedules came first (bounds: {bounds}); raise "
        "--schedules to prove the scenario clean within the bounds. The schedules run so far are one corner of "
        "the space (depth first), not a sample of it: to hunt bugs within a fixed budget, use --strategy pct")
