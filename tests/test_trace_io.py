"""Trace files: `check --trace`, `compare --trace`, `--out` traces, and the reader's one-sentence refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from highmem.cli import main
from highmem.errors import HighmemError
from highmem.report.trace_io import read_trace, write_trace
from highmem.scenarios import load_builtin
from highmem.sim.explore import explore
from highmem.sim.trace import TRACE_SCHEMA, TRACE_VERSION


def _main(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as e:  # argparse's own errors
        return int(e.code or 0)


@pytest.fixture(scope="module")
def stale_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`highmem check irq-uses-user-slot --trace FILE` (exit 1: it has findings)."""
    path = tmp_path_factory.mktemp("trace") / "t.jsonl"
    assert main(["check", "irq-uses-user-slot", "--trace", str(path), "-q"]) == 1
    return path


def test_check_trace_header_and_events(stale_trace: Path) -> None:
    """The header names schema, version, scenario, CPUs, schedule, findings; every event has step and kind."""
    lines = stale_trace.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    assert first["schema"] == TRACE_SCHEMA == "highmem-trace" and first["version"] == TRACE_VERSION == 2
    header, records = read_trace(stale_trace)
    assert header == first
    assert header["scenario"] == "irq-uses-user-slot" and header["profile"] == "linux-2.4" and header["cpus"] == 2
    assert header["events"] == len(records) == len(lines) - 1
    assert header["finding"] == "stale-access"
    choices = header["choices"]
    assert choices and all(isinstance(c[0], int) and isinstance(c[1], str) for c in choices)
    assert "irq eth0@0" in [c[1] for c in choices]  # the interrupt that takes the writer's slot
    kinds = [f["kind"] for f in header["findings"]]
    assert kinds == ["stale-access", "data-mismatch"]
    stale = header["findings"][0]
    assert len(stale["steps"]) == 3 and stale["contexts"] == ["writer", "eth0#1"]
    steps = [r["step"] for r in records]
    assert steps == sorted(steps) and steps[-1] <= header["steps"]
    assert all(isinstance(r["kind"], str) for r in records)
    by_step = {(r["step"], r["kind"]): r for r in records}
    mapped, clobbered, loaded = stale["steps"]
    assert by_step[(mapped, "kmap_atomic")]["context"] == "writer"
    assert by_step[(clobbered, "kmap_atomic")]["context"] == "eth0#1"
    assert by_step[(loaded, "load")]["pfn"] == stale["pages"][1] == by_step[(clobbered, "kmap_atomic")]["pfn"]


def test_out_trace_has_findings_and_event_count(tmp_path: Path) -> None:
    """`--out` traces carry the same report-ready header keys (cpus, events, choices, findings)."""
    assert main(["check", "irq-uses-user-slot", "--out", str(tmp_path), "-q"]) == 1
    header, records = read_trace(tmp_path / "irq-uses-user-slot.stale-access.trace.jsonl")
    assert header["finding"] == "stale-access" and header["cpus"] == 2 and header["events"] == len(records)
    assert {f["kind"] for f in header["findings"]} == {"stale-access", "data-mismatch"}


def test_check_trace_of_a_clean_scenario_is_schedule_0(tmp_path: Path) -> None:
    """Nothing found: the trace is schedule 0 of the exploration (same steps as exploring one schedule)."""
    path = tmp_path / "clean.jsonl"
    assert main(["check", "copy-highpage", "--schedules", "3", "--trace", str(path), "-q"]) == 0
    header, records = read_trace(path)
    assert header["findings"] == [] and "finding" not in header
    ex = explore(load_builtin("copy-highpage"), load_builtin("copy-highpage").config(None, []), strategy="pct",
                 schedules=1, seed=0)
    assert header["steps"] == ex.steps
    assert {r["what"] for r in records if r["kind"] == "context"} >= {"start", "end"}


def test_compare_trace(tmp_path: Path) -> None:
    """`compare --trace` writes the trace of the first cell, as `check --trace` would."""
    path = tmp_path / "cmp.jsonl"
    rc = _main(["compare", "irq-uses-user-slot", "--profiles", "linux-2.4", "--schedules", "100", "--json",
                "--trace", str(path)])
    assert rc in (0, 1)
    header, records = read_trace(path)
    assert header["scenario"] == "irq-uses-user-slot" and header["profile"] == "linux-2.4"
    assert records and header["events"] == len(records)


def _good(tmp_path: Path) -> tuple[dict[str, Any], list[dict[str, Any]], Path]:
    header = {"scenario": "s", "profile": "linux-2.4", "cpus": 1, "steps": 3, "events": 3}
    records = [{"step": 0, "kind": "context", "cpu": 0, "context": "t", "ctx_kind": "task", "what": "start",
                "detail": ""},
               {"step": 1, "kind": "load", "cpu": 0, "context": "t", "vaddr": 1, "size": 1, "pfn": 2, "tlb": False},
               {"step": 3, "kind": "context", "cpu": 0, "context": "t", "ctx_kind": "task", "what": "end",
                "detail": "exit"}]
    path = tmp_path / "good.jsonl"
    write_trace(path, header, records)
    return header, records, path


def test_write_then_read_round_trip(tmp_path: Path) -> None:
    header, records, path = _good(tmp_path)
    h, r = read_trace(path)
    assert r == records and h == {"schema": "highmem-trace", "version": TRACE_VERSION, **header}


def test_version_1_traces_are_still_read(tmp_path: Path) -> None:
    """A version-1 trace (events only, no state records) is read and reported as before."""
    from highmem.report.html import render_html

    header, records, path = _good(tmp_path)
    old = tmp_path / "v1.jsonl"
    old.write_text(path.read_text(encoding="utf-8").replace(f'"version": {TRACE_VERSION}', '"version": 1'),
                   encoding="utf-8")
    h, r = read_trace(old)
    assert h["version"] == 1 and r == records
    assert "Trace schema highmem-trace version 1." in render_html(h, r)


def _bad_cases(tmp_path: Path) -> list[tuple[str, str, str]]:
    """(file name, content, the exact error)."""
    _, _, good = _good(tmp_path)
    text = good.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    cases = [
        ("cut.jsonl", text[: len(text) - 25], "is truncated or corrupt at line 4"),
        ("cut-at-line.jsonl", "".join(lines[:3]), "is truncated or corrupt at line 4"),
        ("bad-middle.jsonl", lines[0] + '{"step": 1}\n' + "".join(lines[2:]), "is truncated or corrupt at line 2"),
        ("not-object.jsonl", lines[0] + "[1, 2]\n", "is truncated or corrupt at line 2"),
        ("negative.jsonl", lines[0] + '{"step": -1, "kind": "load"}\n', "is truncated or corrupt at line 2"),
        ("newer.jsonl", text.replace(f'"version": {TRACE_VERSION}', '"version": 7'),
         "has schema version 7; this highmem reads versions 1 to 2"),
        ("unknown-version.jsonl", text.replace(f'"version": {TRACE_VERSION}', '"version": "2b"'),
         'has an unknown schema version "2b"; this highmem reads versions 1 to 2'),
        ("version-0.jsonl", text.replace(f'"version": {TRACE_VERSION}', '"version": 0'),
         "has an unknown schema version 0; this highmem reads versions 1 to 2"),
        ("other.jsonl", '{"schema": "something-else", "version": 1}\n',
         "is not a highmem trace: its first line is not a highmem-trace header"),
        ("readme.md", "# highmem\n\nAn executable model.\n",
         "is not a highmem trace: its first line is not a highmem-trace header"),
        ("empty.jsonl", "", "is not a highmem trace: its first line is not a highmem-trace header"),
    ]
    out = []
    for name, content, err in cases:
        p = tmp_path / name
        p.write_text(content, encoding="utf-8")
        out.append((name, str(p), f"trace file {p} {err}"))
    return out


def test_bad_traces_give_one_sentence(tmp_path: Path) -> None:
    for _name, path, err in _bad_cases(tmp_path):
        with pytest.raises(HighmemError) as ei:
            read_trace(path)
        assert str(ei.value) == err
    with pytest.raises(HighmemError, match=r"^trace file \S+ does not exist$"):
        read_trace(tmp_path / "missing.jsonl")
    with pytest.raises(HighmemError, match="is a directory"):
        read_trace(tmp_path)


def test_report_cli_bad_traces_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`highmem report BAD -o x.html`: status 2, exactly one line on stderr, no report written."""
    out = tmp_path / "r.html"
    for _name, path, err in _bad_cases(tmp_path):
        assert _main(["report", path, "-o", str(out)]) == 2
        cap = capsys.readouterr()
        assert cap.err == f"highmem: {err}\n" and cap.out == ""
        assert not out.exists()
    assert _main(["report", str(tmp_path / "missing.jsonl"), "-o", str(out)]) == 2
    assert capsys.readouterr().err == f"highmem: trace file {tmp_path / 'missing.jsonl'} does not exist\n"


def test_trace_target_refused_before_exploring(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "no" / "such" / "dir" / "t.jsonl"
    assert _main(["check", "irq-uses-user-slot", "--trace", str(bad), "-q"]) == 2
    cap = capsys.readouterr()
    assert cap.err == f"highmem: trace file {bad} cannot be written: directory {bad.parent} does not exist\n"
    assert cap.out == ""
    assert _main(["check", "irq-uses-user-slot", "--trace", str(tmp_path), "-q"]) == 2
    assert capsys.readouterr().err == f"highmem: trace file {tmp_path} is a directory: name a file to write\n"
