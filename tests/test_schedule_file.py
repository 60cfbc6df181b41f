"""Schedule files: save/load round trip, load errors, and replay through `highmem check --replay`."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from highmem.cli import main
from highmem.errors import HighmemError
from highmem.scenarios import load_builtin
from highmem.sim.schedule import SCHEDULE_FORMAT, SCHEDULE_VERSION, load_schedule, save_schedule

DATA: dict[str, Any] = {
    "scenario": "builtin:irq-uses-user-slot", "digest": "sha256:0123abcd", "profile": "linux-2.4",
    "config": ["DEBUG_HIGHMEM=n"], "finding": {"kind": "stale-access", "message": "m"}, "steps": 91,
    "choices": [[35, "irq eth0@0"], [40, "run bystander@1"]],
}


def _write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _good() -> dict[str, Any]:
    return {"format": SCHEDULE_FORMAT, "version": SCHEDULE_VERSION, **DATA}


def test_schedule_round_trip(tmp_path: Path) -> None:
    """save_schedule then load_schedule gives back every field, with choices as (point, label) tuples."""
    p = tmp_path / "s.schedule.json"
    save_schedule(p, dict(DATA))
    doc = load_schedule(p)
    assert doc == {**_good(), "choices": [(35, "irq eth0@0"), (40, "run bystander@1")]}
    raw = json.loads(p.read_text(encoding="utf-8"))
    assert (raw["format"], raw["version"]) == ("highmem-schedule", 2)


def test_schedule_round_trip_empty_choices(tmp_path: Path) -> None:
    """A schedule without choices (the default schedule) round-trips to an empty list."""
    p = tmp_path / "s.json"
    save_schedule(p, {**DATA, "choices": []})
    assert load_schedule(p)["choices"] == []


def test_schedule_is_one_choice_per_line(tmp_path: Path) -> None:
    """Each choice is written on its own line, so long schedules stay readable and diffable."""
    p = tmp_path / "s.json"
    save_schedule(p, dict(DATA))
    lines = p.read_text(encoding="utf-8").splitlines()
    assert '[35, "irq eth0@0"],' in [x.strip() for x in lines]
    assert '[40, "run bystander@1"]' in [x.strip() for x in lines]


def _error(path: Path) -> str:
    with pytest.raises(HighmemError) as e:
        load_schedule(path)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_schedule_missing_file(tmp_path: Path) -> None:
    """A missing schedule file: 'does not exist'."""
    p = tmp_path / "nope.json"
    assert _error(p) == f"schedule file {str(p)!r} does not exist"


def test_schedule_not_json(tmp_path: Path) -> None:
    """A file that is not JSON: 'is not a JSON schedule' with the parser's reason."""
    p = tmp_path / "s.json"
    p.write_text("this is not json", encoding="utf-8")
    assert _error(p).startswith(f"schedule file {str(p)!r} is not a JSON schedule: Expecting value")


@pytest.mark.parametrize("doc", [[1, 2], {"version": 1}, {"format": "other", "version": 1}])
def test_schedule_wrong_format(tmp_path: Path, doc: Any) -> None:
    """JSON without "format": "highmem-schedule" is not a highmem schedule."""
    p = _write(tmp_path / "s.json", doc)
    assert _error(p) == f'{str(p)!r} is not a highmem schedule (no "format": "highmem-schedule")'


@pytest.mark.parametrize("version", [3, 0, "2", True, None])
def test_schedule_unknown_version(tmp_path: Path, version: Any) -> None:
    """A schedule of a version this highmem does not read is refused, naming the versions it reads."""
    p = _write(tmp_path / "s.json", {**_good(), "version": version})
    assert _error(p) == f"schedule file {str(p)!r} has version {version!r}; this highmem reads versions 1 and 2"


def test_schedule_version_1_is_read(tmp_path: Path) -> None:
    """A version-1 file (recorded before spinners were rescheduled on a lock's capture) is read as it is."""
    p = _write(tmp_path / "s.json", {**_good(), "version": 1})
    assert load_schedule(p)["version"] == 1


@pytest.mark.parametrize("choices", [
    None, "35 irq", [[35]], [["35", "irq eth0@0"]], [[35, 7]], [(1, "a", 2)], [[35.0, "irq eth0@0"]],
    [[True, "irq eth0@0"]],
])
def test_schedule_malformed_choices(tmp_path: Path, choices: Any) -> None:
    """Choices that are not a list of [int, str] pairs are refused."""
    p = _write(tmp_path / "s.json", {**_good(), "choices": choices})
    assert _error(p) == f'schedule file {str(p)!r} has malformed choices: each is [point, "label"]'


@pytest.mark.parametrize("key", ["scenario", "digest"])
def test_schedule_missing_scenario_or_digest(tmp_path: Path, key: str) -> None:
    """A schedule must name the scenario and its digest it was recorded for."""
    doc = _good()
    del doc[key]
    p = _write(tmp_path / "s.json", doc)
    assert _error(p) == f"schedule file {str(p)!r} lacks the {key!r} it was recorded for"


# -- replay through the CLI -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("out")
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["check", "irq-uses-user-slot", "--out", str(out), "--json"])
    return rc, json.loads(buf.getvalue()), out


def test_schedule_check_out_writes_files(recorded: tuple[int, dict[str, Any], Path]) -> None:
    """check --out exits 1 and writes a schedule file and a trace per found kind, linked from the JSON."""
    rc, doc, out = recorded
    assert rc == 1
    kinds = {f["kind"] for f in doc["findings"]}
    assert kinds == {"stale-access", "data-mismatch"}
    for f in doc["findings"]:
        sched = out / f"irq-uses-user-slot.{f['kind']}.schedule.json"
        assert f["schedule_file"] == str(sched)
        assert sched.is_file() and (out / f"irq-uses-user-slot.{f['kind']}.trace.jsonl").is_file()
        saved = load_schedule(sched)
        assert saved["scenario"] == "builtin:irq-uses-user-slot"
        assert saved["digest"] == load_builtin("irq-uses-user-slot").digest
        assert saved["finding"]["kind"] == f["kind"]
        assert [list(c) for c in saved["choices"]] == f["schedule"]


def test_schedule_trace_file_header(recorded: tuple[int, dict[str, Any], Path]) -> None:
    """The trace is JSON Lines whose first line is the versioned header, then events with step and kind."""
    _, _, out = recorded
    lines = (out / "irq-uses-user-slot.stale-access.trace.jsonl").read_text(encoding="utf-8").splitlines()
    head = json.loads(lines[0])
    assert (head["schema"], head["version"]) == ("highmem-trace", 2)
    assert (head["scenario"], head["profile"], head["finding"]) == ("irq-uses-user-slot", "linux-2.4",
                                                                    "stale-access")
    events = [json.loads(x) for x in lines[1:]]
    assert events and all("step" in e and "kind" in e for e in events)
    assert events[-1]["step"] <= head["steps"]
    assert any(e["kind"] == "context" and e["what"] == "irq_enter" and e["detail"] == "eth0" for e in events)


def test_schedule_replay_reproduces(recorded: tuple[int, dict[str, Any], Path], capsys: pytest.CaptureFixture[str]
                                    ) -> None:
    """check --replay FILE exits 1 and reports the recorded finding as reproduced."""
    _, _, out = recorded
    sched = out / "irq-uses-user-slot.stale-access.schedule.json"
    assert main(["check", "--replay", str(sched), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["reproduced"] is True
    assert doc["steps"] == load_schedule(sched)["steps"]
    assert "stale-access" in {f["kind"] for f in doc["findings"]}
    assert main(["check", "--replay", str(sched)]) == 1
    assert "reproduced stale-access" in capsys.readouterr().out


BUILTIN = resources.files("highmem.scenarios") / "builtin" / "irq-uses-user-slot.toml"


def test_schedule_replay_refuses_edited_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Replaying against a scenario file edited since recording exits 2 with one line saying it changed."""
    path = tmp_path / "mine.toml"
    text = BUILTIN.read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["check", str(path), "--out", str(out), "--json"]) == 1
    capsys.readouterr()
    sched = out / "irq-uses-user-slot.stale-access.schedule.json"
    assert load_schedule(sched)["scenario"] == str(path)
    assert main(["check", str(path), "--replay", str(sched)]) == 1  # unchanged: reproduces
    capsys.readouterr()
    edited = text.replace('{ op = "work", steps = 4 }', '{ op = "work", steps = 5 }')
    assert edited != text
    path.write_text(edited, encoding="utf-8")
    assert main(["check", str(path), "--replay", str(sched)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("highmem: schedule ") and err.count("\n") == 1
    assert "the scenario changed" in err and "Traceback" not in err


def test_schedule_replay_of_bad_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """check --replay of a missing file exits 2 with one 'highmem:' line."""
    assert main(["check", "--replay", str(tmp_path / "none.json")]) == 2
    err = capsys.readouterr().err
    assert err == f"highmem: schedule file {str(tmp_path / 'none.json')!r} does not exist\n"


def test_schedule_replay_divergence_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A schedule whose choice is not offered by the run diverges: exit 2 naming the choice and what is offered."""
    sc = load_builtin("irq-uses-user-slot")
    p = tmp_path / "s.json"
    save_schedule(p, {"scenario": "builtin:irq-uses-user-slot", "digest": sc.digest, "profile": "linux-2.4",
                      "config": [], "finding": {"kind": "stale-access", "message": "m"}, "steps": 91,
                      "choices": [[0, "irq nope@0"]]})
    assert main(["check", "--replay", str(p)]) == 2
    assert capsys.readouterr().err == (
        "highmem: scenario irq-uses-user-slot: the schedule diverges at choice 0 (step 0): it says 'irq nope@0' but "
        "the run offers run writer@0, run bystander@1, irq eth0@0; it was recorded against a different scenario or "
        "profile\n")


def test_schedule_replay_uses_recorded_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A schedule recorded with --config DEBUG_HIGHMEM=y replays under that config (the BUG, not a stale access)."""
    rc = main(["check", "irq-uses-user-slot", "--config", "DEBUG_HIGHMEM=y", "--out", str(tmp_path), "--json"])
    assert rc == 1
    kinds = {f["kind"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert kinds == {"slot-in-use"}
    sched = tmp_path / "irq-uses-user-slot.slot-in-use.schedule.json"
    assert load_schedule(sched)["config"] == ["DEBUG_HIGHMEM=y"]
    assert main(["check", "--replay", str(sched), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["reproduced"] is True
    assert [f["kind"] for f in doc["findings"]] == ["slot-in-use"]


V1 = Path(__file__).parent / "data" / "schedules" / "kmap-high-ipi-deadlock-2024.deadlock.v1.schedule.json"


def test_schedule_replay_of_version_1_reproduces(capsys: pytest.CaptureFixture[str]) -> None:
    """A version-1 schedule recorded by the highmem before version 2 (a spin-lock deadlock) replays and
    reproduces its finding in the recorded number of steps."""
    assert load_schedule(V1)["version"] == 1
    assert main(["check", "--replay", str(V1), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert (doc["reproduced"], doc["steps"]) == (True, 31)
    assert [f["kind"] for f in doc["findings"]] == ["deadlock"]


@pytest.mark.parametrize("edit,detail", [
    ('"steps": 31', "it recorded deadlock in 30 steps, the run gave deadlock in 31"),
    ('"run irqs-off@1"', "its choices do not fit the run"),
])
def test_schedule_replay_of_version_1_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: str,
                                              detail: str) -> None:
    """A version-1 schedule that does not reproduce (or does not fit) under version 2 is refused with one
    sentence naming its version, and exit 2; the same file as version 2 is a divergence."""
    text = V1.read_text(encoding="utf-8")
    assert edit in text
    new = '"steps": 30' if edit.startswith('"steps"') else '"run nobody@1"'
    p = tmp_path / "old.json"
    p.write_text(text.replace(edit, new), encoding="utf-8")
    assert main(["check", "--replay", str(p)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"highmem: schedule file {str(p)!r} has version 1, recorded before version 2 changed how contexts "
        f"spinning on a lock are scheduled, and does not replay under it ({detail}): record it again with "
        "highmem check --out\n")
    p.write_text(text.replace(edit, new).replace('"version": 1', '"version": 2'), encoding="utf-8")
    assert main(["check", "--replay", str(p)]) == 2
    assert "version" not in capsys.readouterr().err
