"""`highmem check --expected-ok/--junit/--sarif`: verdicts, JUnit cases, SARIF locations, unwritable paths."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from highmem.cli import main
from sarif_schema import sarif_errors

# Two tasks on one CPU share KM_USER0; "a" sleeps holding it, so "b" remaps the slot under it.
# The line numbers below are counted by hand from this text.
SHARED = """\
[scenario]
name = "shared-slot"
expect = ["sleep-in-atomic", "stale-access"]

[machine]
profile = "linux-2.4"
cpus = 1

[pages]
A = { data = "aaaa" }
B = { data = "bbbb" }

[[task]]
name = "a"
ops = [
  { op = "kmap_atomic", page = "A", type = "KM_USER0", as = "x" },
  { op = "schedule" },
  { op = "load", addr = "x", size = 4 },
  { op = "kunmap_atomic", addr = "x", type = "KM_USER0" },
]

[[task]]
name = "b"
ops = [
  { op = "kmap_atomic", page = "B", type = "KM_USER0", as = "y" },
  { op = "kunmap_atomic", addr = "y", type = "KM_USER0" },
]
"""
LINE_A_KMAP, LINE_A_SCHEDULE, LINE_A_LOAD, LINE_B_KMAP = 16, 17, 18, 25


def _main(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as e:
        return int(e.code or 0)


@pytest.fixture
def shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The scenario above, written to tmp_path (also the working directory)."""
    monkeypatch.chdir(tmp_path)
    p = tmp_path / "shared.toml"
    p.write_text(SHARED, encoding="utf-8")
    return p


def _with_expect(path: Path, expect: str) -> None:
    path.write_text(SHARED.replace('expect = ["sleep-in-atomic", "stale-access"]', f"expect = {expect}"),
                    encoding="utf-8")


def test_expected_ok_passes_when_findings_equal_expect(shared: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--expected-ok: the kinds found equal the expect list, so the exit status is 0 and stderr is empty."""
    assert _main(["check", "-q", "--strategy", "exhaustive", "--expected-ok", str(shared)]) == 0
    assert capsys.readouterr().err == ""


def test_expected_ok_names_missing_and_unexpected_kinds(shared: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--expected-ok fails with one line naming the kinds missing and the kinds not expected."""
    _with_expect(shared, '["sleep-in-atomic", "deadlock"]')
    assert _main(["check", "-q", "--strategy", "exhaustive", "--expected-ok", str(shared)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("highmem: shared-slot: expected deadlock but no schedule of ")
    assert err.endswith(" found it; found stale-access (in 1 of 3 schedules), which it does not expect\n")
    assert err.count("\n") == 1


def test_without_expected_ok_any_finding_fails(shared: Path) -> None:
    """Without --expected-ok, expected findings still make the exit status 1."""
    assert _main(["check", "-q", "--strategy", "exhaustive", str(shared)]) == 1


def test_junit_one_case_per_kind(shared: Path) -> None:
    """--junit: a suite per scenario, a case per kind expected or found, failures by the verdict's rule."""
    _with_expect(shared, '["sleep-in-atomic", "deadlock"]')
    out = shared.parent / "j.xml"
    assert _main(["check", "-q", "--strategy", "exhaustive", "--expected-ok", "--junit", str(out), str(shared)]) == 1
    root = ET.parse(out).getroot()
    assert (root.tag, root.get("tests"), root.get("failures")) == ("testsuites", "3", "2")
    (suite,) = root
    assert suite.get("name") == "shared-slot"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert sorted(cases) == ["deadlock", "sleep-in-atomic", "stale-access"]
    assert len(cases["sleep-in-atomic"]) == 0
    (missing,) = cases["deadlock"]
    assert (missing.tag, missing.get("type")) == ("failure", "missing")
    assert missing.get("message") == "deadlock is expected but no schedule of 3 found it"
    (extra,) = cases["stale-access"]
    assert extra.get("message") == "stale-access found in 1 of 3 schedules, and the scenario does not expect it"
    assert (extra.text or "").startswith("a did a load from 0xffff2000 on CPU 0 expecting page ")
    assert (extra.text or "").endswith("\nschedule: the default schedule\n")


def test_junit_clean_scenario_has_one_passing_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clean built-in that finds nothing is one passing test case named clean."""
    monkeypatch.chdir(tmp_path)
    assert _main(["check", "-q", "--schedules", "3", "--junit", "j.xml", "copy-highpage"]) == 0
    root = ET.parse(tmp_path / "j.xml").getroot()
    assert [(c.get("classname"), c.get("name"), len(c)) for c in root.iter("testcase")] == [
        ("highmem.copy-highpage", "clean", 0)]


def test_sarif_locates_operations_in_the_scenario_file(shared: Path) -> None:
    """--sarif: valid 2.1.0; each result sits on the line of its last operation, earlier ones related."""
    out = shared.parent / "s.sarif"
    assert _main(["check", "-q", "--strategy", "exhaustive", "--sarif", str(out), str(shared)]) == 1
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert sarif_errors(doc) == []
    results = {r["ruleId"]: r for r in doc["runs"][0]["results"]}
    assert sorted(results) == ["sleep-in-atomic", "stale-access"]

    def where(loc: dict[str, object]) -> tuple[str, int]:
        phys = loc["physicalLocation"]
        assert isinstance(phys, dict)
        return phys["artifactLocation"]["uri"], phys["region"]["startLine"]

    stale = results["stale-access"]
    assert where(stale["locations"][0]) == ("shared.toml", LINE_A_LOAD)
    assert [where(r) for r in stale["relatedLocations"]] == [("shared.toml", LINE_A_KMAP),
                                                             ("shared.toml", LINE_B_KMAP)]
    assert stale["relatedLocations"][1]["message"]["text"].endswith(
        "b runs kmap_atomic(page=B, type=KM_USER0, as=y)")
    sleep = results["sleep-in-atomic"]
    assert where(sleep["locations"][0]) == ("shared.toml", LINE_A_SCHEDULE)
    assert "suppressions" not in sleep


def test_sarif_expected_ok_suppresses_expected_findings(shared: Path) -> None:
    """With --expected-ok, a finding the scenario expects is an accepted in-source suppression."""
    out = shared.parent / "s.sarif"
    assert _main(["check", "-q", "--strategy", "exhaustive", "--expected-ok", "--sarif", str(out), str(shared)]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert sarif_errors(doc) == []
    assert {r["ruleId"]: r["suppressions"][0]["kind"] for r in doc["runs"][0]["results"]} == {
        "sleep-in-atomic": "inSource", "stale-access": "inSource"}
    assert doc["runs"][0]["invocations"][0]["exitCode"] == 0


def test_sarif_and_junit_of_every_builtin_validate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The built-in library passes its own --expected-ok check, and its SARIF log validates."""
    monkeypatch.chdir(tmp_path)
    assert _main(["check", "-q", "--expected-ok", "--sarif", "s.sarif", "--junit", "j.xml"]) == 0
    doc = json.loads((tmp_path / "s.sarif").read_text(encoding="utf-8"))
    assert sarif_errors(doc) == []
    for r in doc["runs"][0]["results"]:
        assert r["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1, r["ruleId"]
    assert ET.parse(tmp_path / "j.xml").getroot().get("failures") == "0"


@pytest.mark.parametrize(("opt", "target", "sentence"), [
    ("--junit", "missing/j.xml", "highmem: --junit missing/j.xml cannot be written: directory missing does not exist"),
    ("--sarif", ".", "highmem: --sarif . is a directory: name a file to write"),
])
def test_unwritable_output_is_one_sentence_before_exploring(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        opt: str, target: str, sentence: str) -> None:
    """An unwritable --junit/--sarif path: one sentence, exit 2, and nothing explored or printed."""
    monkeypatch.chdir(tmp_path)
    assert _main(["check", "--schedules", "1", opt, target, "copy-highpage"]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", sentence + "\n")


def test_ci_options_refused_with_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--junit, --sarif and --expected-ok describe an exploration; with --replay they are refused."""
    assert _main(["check", "--replay", str(tmp_path / "x.json"), "--junit", "j.xml"]) == 2
    assert capsys.readouterr().err == "highmem: --junit applies only to an exploration, not to --replay\n"
