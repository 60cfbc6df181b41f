"""`check --replay FILE` with `--trace`, `--html` and `--out`: the replayed run is recorded, in any format."""

from __future__ import annotations

import json
from pathlib import Path

from highmem.cli import main
from highmem.report.trace_io import read_trace


def test_replay_writes_trace_html_and_out(tmp_path: Path) -> None:
    """The replayed run's trace equals the --out trace it came from; the page names the replayed file."""
    out = tmp_path / "out"
    assert main(["check", "irq-uses-user-slot", "--out", str(out), "-q"]) == 1
    sched = out / "irq-uses-user-slot.stale-access.schedule.json"
    again = tmp_path / "again"
    trace = tmp_path / "r.jsonl"
    html = tmp_path / "html"
    assert main(["check", "--replay", str(sched), "--trace", str(trace), "--html", str(html), "--out",
                 str(again), "--trace-format", "jsonl"]) == 1
    h0, r0 = read_trace(out / "irq-uses-user-slot.stale-access.trace.jsonl")
    h1, r1 = read_trace(trace)
    assert r1 == r0 and h1["steps"] == h0["steps"] and h1["findings"] == h0["findings"]
    assert h1["replay"] == str(sched)
    page = (html / "irq-uses-user-slot.html").read_text(encoding="utf-8")
    assert f"This page draws the schedule replayed from {sched}." in page
    assert sorted(p.name for p in again.iterdir()) == sorted(p.name for p in out.iterdir())
    a = json.loads(sched.read_text(encoding="utf-8"))
    b = json.loads((again / sched.name).read_text(encoding="utf-8"))
    assert b == a
    assert read_trace(again / "irq-uses-user-slot.stale-access.trace.jsonl")[1] == r0


def test_replay_trace_in_ftrace_format(tmp_path: Path) -> None:
    """--replay with --trace-format ftrace writes text, not JSON Lines."""
    out = tmp_path / "out"
    assert main(["check", "irq-uses-user-slot", "--out", str(out), "-q"]) == 1
    t = tmp_path / "r.txt"
    assert main(["check", "--replay", str(out / "irq-uses-user-slot.stale-access.schedule.json"), "--trace", str(t),
                 "--trace-format", "ftrace"]) == 1
    text = t.read_text(encoding="utf-8")
    assert text.startswith("cpus=2\n") and ": kmap_atomic: page=0x38001 type=KM_USER0 idx=3" in text
