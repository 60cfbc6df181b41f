"""`highmem scan` on the command line: output format, exit status, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from highmem.cli import main

CORPUS = Path(__file__).parent / "corpus"


def test_scan_cli_gcc_lines_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    """A finding prints as path:line:col: warning ... [highmem-rule] plus its notes, and exits 1."""
    path = str(CORPUS / "double_unmap_bad.c")
    assert main(["scan", path]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{path}:14:2: warning: kunmap_local(addr) releases 'addr' again; it was already unmapped at line 11 "
        f"[highmem-double-unmap]",
        f"{path}:7:15: note: 'addr' mapped here with kmap_local_page()",
        f"{path}:11:3: note: 'addr' first unmapped here",
    ]


def test_scan_cli_clean_file_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    """A file without findings prints nothing and exits 0."""
    assert main(["scan", str(CORPUS / "double_unmap_ok.c")]) == 0
    assert capsys.readouterr().out == ""


def test_scan_cli_json_schema_fields(capsys: pytest.CaptureFixture[str]) -> None:
    """--json gives schema highmem-scan version 1 with the documented fields of each finding."""
    assert main(["scan", "--json", str(CORPUS / "use_after_unmap_bad.c")]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert (doc["schema"], doc["version"]) == ("highmem-scan", 1)
    [f] = doc["findings"]
    assert {k: f[k] for k in ("rule", "severity", "line", "column", "function")} == {
        "rule": "use-after-unmap", "severity": "warning", "line": 11, "column": 9, "function": "record_len"}
    assert [n["line"] for n in f["notes"]] == [7, 10]


@pytest.mark.parametrize(("setup", "message"), [
    ("missing", "highmem: path '{p}' does not exist"),
    ("empty-dir", "highmem: directory '{p}' holds no .c files"),
    ("binary", "highmem: file '{p}' is binary, not C source"),
    ("latin1", "highmem: file '{p}' is not UTF-8 (byte 3 is invalid)"),
])
def test_scan_cli_bad_input_one_sentence_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], setup: str,
                                                message: str) -> None:
    """A missing path, an empty directory, a binary or non-UTF-8 file: one sentence, exit 2."""
    p = tmp_path / "x.c"
    if setup == "empty-dir":
        p = tmp_path / "empty"
        p.mkdir()
    elif setup == "binary":
        p.write_bytes(b"\x7fELF\0\0")
    elif setup == "latin1":
        p.write_bytes(b"/* \xe9 */\n")
    assert main(["scan", str(p)]) == 2
    err = capsys.readouterr()
    assert (err.out, err.err) == ("", message.format(p=p) + "\n")


def test_scan_cli_bad_jobs_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """--jobs 0 is refused in one sentence."""
    assert main(["scan", "--jobs", "0", str(CORPUS)]) == 2
    assert capsys.readouterr().err == "highmem: --jobs 0 is not a positive number of processes\n"


def test_scan_cli_jobs_2_same_output(capsys: pytest.CaptureFixture[str]) -> None:
    """Two worker processes print exactly what one prints."""
    main(["scan", str(CORPUS)])
    one = capsys.readouterr().out
    main(["scan", "--jobs", "2", str(CORPUS)])
    assert capsys.readouterr().out == one


def test_scan_cli_sarif_validates_against_schema(tmp_path: Path) -> None:
    """--sarif writes a SARIF 2.1.0 log the official schema accepts, one result per finding."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent.parent))
    from sarif_schema import sarif_errors

    out = tmp_path / "scan.sarif"
    assert main(["scan", "--sarif", str(out), str(CORPUS / "unmap_order_bad.c"), str(CORPUS / "escape_bad.c")]) == 1
    doc = json.loads(out.read_text())
    assert sarif_errors(doc) == []
    results = doc["runs"][0]["results"]
    assert [(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in results] == [
        ("highmem-escape", 7), ("highmem-unmap-order", 11)]
    assert len(results[1]["relatedLocations"]) == 2


def test_scan_cli_baseline_hides_known_findings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With --baseline an earlier --json output, only new findings are reported (exit 0 when none)."""
    base = tmp_path / "base.json"
    main(["scan", "--json", str(CORPUS / "double_unmap_bad.c")])
    base.write_text(capsys.readouterr().out)
    assert main(["scan", "--baseline", str(base), str(CORPUS / "double_unmap_bad.c")]) == 0
    assert capsys.readouterr().out == ""
    assert main(["scan", "--baseline", str(base), str(CORPUS / "double_unmap_bad.c"),
                 str(CORPUS / "kmap_leak_bad.c")]) == 1
    assert "[highmem-kmap-leak]" in capsys.readouterr().out


def test_scan_cli_bad_baseline_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A baseline that is not scan JSON is one sentence and exit 2."""
    bad = tmp_path / "b.json"
    bad.write_text("[]")
    assert main(["scan", "--baseline", str(bad), str(CORPUS)]) == 2
    assert capsys.readouterr().err == f"highmem: baseline {str(bad)!r} is not the output of `highmem scan --json`\n"


def test_scan_cli_scenarios_written_and_loadable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--scenarios DIR writes one loadable scenario per replayable warning, on the kind's profile."""
    from highmem.scenarios import load_scenario_file

    out = tmp_path / "sc"
    assert main(["scan", "--scenarios", str(out), str(CORPUS / "unmap_order_bad.c")]) == 1
    assert capsys.readouterr().err == f"highmem: 1 scenarios written to {out}\n"
    [p] = sorted(out.iterdir())
    assert p.name == "scan-0000-unmap-order.toml"
    sc = load_scenario_file(str(p))
    assert (sc.machine["profile"], sc.expect) == ("linux-5.11", ["unmap-order"])
