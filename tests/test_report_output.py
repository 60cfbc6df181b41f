"""Written outputs: a regular file is replaced atomically, a device or a pipe is written in place."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from highmem.cli import main
from highmem.report.output import write_text


def _drain(path: Path, out: list[bytes]) -> threading.Thread:
    def read() -> None:
        with open(path, "rb") as f:
            out.append(f.read())

    t = threading.Thread(target=read, daemon=True)
    t.start()
    return t


def test_output_fifo_is_written_in_place_not_replaced(tmp_path: Path) -> None:
    """Writing to a FIFO feeds its reader and leaves the FIFO a FIFO (a rename over it would replace it,
    as it once replaced /dev/null with a regular file for the whole system)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _drain(fifo, got)
    write_text(fifo, "through the pipe\n", "trace file")
    reader.join(5)
    assert got == [b"through the pipe\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_output_cli_sarif_to_a_fifo(tmp_path: Path, capsys: object) -> None:
    """`highmem check --sarif FIFO` writes the SARIF log to the FIFO's reader and keeps the FIFO."""
    fifo = tmp_path / "sarif"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _drain(fifo, got)
    assert main(["check", "copy-highpage", "--schedules", "1", "-q", "--sarif", str(fifo)]) == 0
    reader.join(5)
    assert got and b'"version": "2.1.0"' in got[0]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_output_regular_file_is_replaced_whole(tmp_path: Path) -> None:
    """A regular file's old contents give way to the new ones, and no temporary file is left."""
    target = tmp_path / "t.txt"
    target.write_text("old contents, longer than the new", encoding="utf-8")
    write_text(target, "new", "trace file")
    assert target.read_text(encoding="utf-8") == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.txt"]
