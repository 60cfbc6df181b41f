"""--replay never loads what a schedule file names: built-ins only, anything else named again by the user."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from highmem.cli import main
from highmem.scenarios import load_builtin
from highmem.sim.schedule import save_schedule


def _schedule(path: Path, scenario: str, digest: str = "sha256:0") -> Path:
    save_schedule(path, {"scenario": scenario, "digest": digest, "profile": "linux-2.4", "config": [],
                         "finding": {"kind": "stale-access", "message": "m"}, "steps": 1, "choices": []})
    return path


@pytest.mark.parametrize("named", ["os:abort", "os:getcwd", "evil.py", "evil.py:scenario", "x.toml"])
def test_replay_never_imports_named_code(tmp_path: Path, capsys: pytest.CaptureFixture[str], named: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A schedule naming a module, a .py or a .toml file is refused with one sentence; nothing is imported."""
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "ran"
    (tmp_path / "evil.py").write_text(f"open({str(marker)!r}, 'w').close()\n", encoding="utf-8")
    sched = _schedule(tmp_path / "s.json", named)
    assert main(["check", "--replay", str(sched)]) == 2
    err = capsys.readouterr().err
    assert err == (f"highmem: schedule {sched} was recorded for scenario {named!r}, which is not built in; --replay "
                   "never loads a scenario a schedule file names, so name it again: highmem check --replay "
                   f"{sched} SCENARIO\n")
    assert not marker.exists()


def test_replay_of_builtin_needs_no_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A schedule of a built-in replays without naming it; the digest still guards it."""
    sc = load_builtin("irq-uses-user-slot")
    sched = _schedule(tmp_path / "s.json", "builtin:irq-uses-user-slot", sc.digest)
    rc = main(["check", "--replay", str(sched), "--json"])
    assert rc in (0, 1, 2)
    assert json.loads(capsys.readouterr().out)["scenario"] == "irq-uses-user-slot"


def test_replay_with_two_scenarios_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--replay with two scenario names exits 2 with one sentence."""
    sched = _schedule(tmp_path / "s.json", "builtin:irq-uses-user-slot")
    assert main(["check", "--replay", str(sched), "irq-uses-user-slot", "copy-highpage"]) == 2
    assert capsys.readouterr().err == ("highmem: --replay replays one scenario, but 2 are named: name at most the "
                                       "one the schedule was recorded for\n")


def test_replay_named_file_with_other_digest_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The user names a TOML file again; a digest that differs from the recorded one exits 2."""
    toml = tmp_path / "mine.toml"
    toml.write_text('[[task]]\nname = "t"\nops = [{ op = "work" }]\n', encoding="utf-8")
    sched = _schedule(tmp_path / "s.json", str(toml), "sha256:0")
    assert main(["check", "--replay", str(sched), str(toml)]) == 2
    assert "the scenario changed, so the schedule no longer applies" in capsys.readouterr().err
