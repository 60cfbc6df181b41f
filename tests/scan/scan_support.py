"""Shared by the scan tests: scan one C text and list its diagnostics."""

from __future__ import annotations

from pathlib import Path

from highmem.scan import scan_paths


def diag(tmp_path: Path, text: str) -> list[tuple[int, str, str]]:
    """(line, rule, message) of every finding of ``text`` scanned as ``tmp_path/t.c``."""
    f = tmp_path / "t.c"
    f.write_text(text)
    return [(d.line, d.rule, d.message) for d in scan_paths([str(f)]).findings]
