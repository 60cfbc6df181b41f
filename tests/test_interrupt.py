"""Ctrl-C: one line, exit 130, workers stopped; files are written whole or not at all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from highmem.cli import main
from highmem.errors import HighmemError
from highmem.report.output import write_text

HIGHMEM = Path(sys.executable).with_name("highmem")


def _default_sigint() -> None:
    # A shell's background job ignores SIGINT, and Python keeps an ignored SIGINT ignored.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_interrupt_ctrl_c_one_line_exit_130(tmp_path: Path, jobs: str) -> None:
    """SIGINT to the process group mid-run: 'highmem: interrupted', exit 130, no process left, no file."""
    p = subprocess.Popen([str(HIGHMEM), "check", "irq-uses-user-slot", "--schedules", "1000000", "--jobs", jobs,
                          "--force-jobs", "--out", str(tmp_path / "out")], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=_default_sigint)
    time.sleep(3)
    os.killpg(p.pid, signal.SIGINT)
    try:
        out, err = p.communicate(timeout=10)
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert (p.returncode, err) == (130, "highmem: interrupted\n")
    time.sleep(0.3)
    with pytest.raises(ProcessLookupError):
        os.killpg(p.pid, 0)  # the whole group, workers included, is gone
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_interrupt_during_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An interrupted write leaves neither the target nor its temporary file."""
    def interrupted(a: object, b: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_text(tmp_path / "t.jsonl", "x" * 100_000, "trace file")
    assert list(tmp_path.iterdir()) == []


def test_interrupt_write_keeps_old_file_on_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed write keeps the previous file intact and reports one sentence."""
    target = tmp_path / "s.json"
    target.write_text("old", encoding="utf-8")

    def failing(a: object, b: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(HighmemError, match=r"schedule file .*s\.json cannot be written: No space left on device"):
        write_text(target, "new", "schedule file")
    assert target.read_text(encoding="utf-8") == "old" and list(tmp_path.iterdir()) == [target]


def test_interrupt_report_refuses_overwriting_its_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """report X -o X (also through another spelling of the path) is refused, X unchanged."""
    trace = tmp_path / "t.jsonl"
    trace.write_text("{}\n", encoding="utf-8")
    for out in (str(trace), str(tmp_path / "." / "t.jsonl")):
        assert main(["report", str(trace), "-o", out]) == 2
        assert capsys.readouterr().err == (f"highmem: report {trace} -o {out} would overwrite the trace it reads: "
                                           "name another output file\n")
    assert trace.read_text(encoding="utf-8") == "{}\n"
