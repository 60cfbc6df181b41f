"""The generic SARIF 2.1.0 builder (highmem.report.sarif), checked against the official schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from highmem.report.sarif import SARIF_SCHEMA_URI, Location, Result, Rule, SarifLog, results_by_rule
from sarif_schema import sarif_errors


def _log(tmp_path: Path) -> SarifLog:
    log = SarifLog("tool", "1.2.3", information_uri="https://example.org/tool", base_dir=tmp_path,
                   rules=[Rule("stale-access", "Access through a reused slot.", full="Longer.", name="StaleAccess",
                               help_text="Unmap first.", help_uri="https://example.org/r", tags=("kmap",)),
                          Rule("note-rule", "Just a note.", level="note")])
    return log


def test_sarif_minimal_log_exact(tmp_path: Path) -> None:
    """A log with one rule and one located result has exactly the documented shape."""
    log = SarifLog("t", "0.1", base_dir=tmp_path, rules=[Rule("r1", "Rule one.")])
    log.add(Result("r1", "it broke", locations=[Location("a/b.toml", line=3)]))
    assert log.to_dict() == {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "t", "version": "0.1", "semanticVersion": "0.1", "rules": [
                {"id": "r1", "shortDescription": {"text": "Rule one."}, "defaultConfiguration": {"level": "error"}}]}},
            "originalUriBaseIds": {"SRCROOT": {"uri": tmp_path.resolve().as_uri() + "/"}},
            "results": [{"ruleId": "r1", "ruleIndex": 0, "message": {"text": "it broke"}, "locations": [
                {"physicalLocation": {"artifactLocation": {"uri": "a/b.toml", "uriBaseId": "SRCROOT"},
                                      "region": {"startLine": 3}}}]}],
            "columnKind": "unicodeCodePoints",
        }],
    }
    assert sarif_errors(log.to_dict()) == []


def test_sarif_full_log_validates(tmp_path: Path) -> None:
    """Related locations, a thread flow, logical locations, fingerprints and an invocation validate."""
    log = _log(tmp_path)
    a = Location("s/x.toml", line=12, column=5, end_line=12, end_column=30, message="the read", snippet="op = ...",
                 logical="task A", logical_kind="function")
    b = Location("s/x.toml", line=7, message="the slot was remapped here")
    log.add(Result("stale-access", "A read a page through a reused slot", locations=[a], related=[b],
                   flow=[b, a], fingerprints={"highmem/v1": "abc"}, properties={"scenario": "x"}))
    log.add(Result("note-rule", "fyi", level="note", suppressed="declared expected"))
    log.invocation(successful=True, exit_code=1, arguments=["check", "x"])
    log.properties["schedules"] = 10
    doc = json.loads(log.dumps())
    assert sarif_errors(doc) == []
    res = doc["runs"][0]["results"][0]
    assert res["relatedLocations"] == [{"id": 1, "physicalLocation": {
        "artifactLocation": {"uri": "s/x.toml", "uriBaseId": "SRCROOT"}, "region": {"startLine": 7}},
        "message": {"text": "the slot was remapped here"}}]
    assert [s["executionOrder"] for s in res["codeFlows"][0]["threadFlows"][0]["locations"]] == [1, 2]
    assert res["locations"][0]["logicalLocations"] == [{"fullyQualifiedName": "task A", "kind": "function"}]
    assert doc["runs"][0]["results"][1]["ruleIndex"] == 1
    assert doc["runs"][0]["results"][1]["suppressions"] == [
        {"kind": "inSource", "status": "accepted", "justification": "declared expected"}]
    assert doc["runs"][0]["invocations"] == [{"executionSuccessful": True, "exitCode": 1,
                                              "arguments": ["check", "x"]}]
    assert results_by_rule(log) == {"stale-access": 1, "note-rule": 1}


def test_sarif_schema_rejects_a_broken_log(tmp_path: Path) -> None:
    """The vendored schema does catch a malformed log (so passing it means something)."""
    doc = _log(tmp_path).to_dict()
    doc["runs"][0]["results"] = [{"ruleId": "x", "message": {}, "level": "fatal"}]
    errs = sarif_errors(doc)
    assert any("'fatal' is not one of" in e for e in errs)


def test_sarif_path_outside_base_is_file_uri(tmp_path: Path) -> None:
    """A path outside the base directory becomes an absolute file:// URI with no base id."""
    base = tmp_path / "repo"
    base.mkdir()
    log = SarifLog("t", "1", base_dir=base)
    assert log.location_uri(str(tmp_path / "other" / "a b.c")) == ((tmp_path / "other" / "a b.c").as_uri(), None)
    assert log.location_uri(str(base / "d" / "a b.c")) == ("d/a%20b.c", "SRCROOT")
    assert log.location_uri("https://example.org/x.c") == ("https://example.org/x.c", None)


def test_sarif_unknown_rule_is_an_error(tmp_path: Path) -> None:
    """A result whose rule was never declared is refused with one sentence."""
    log = _log(tmp_path)
    with pytest.raises(ValueError, match="^SARIF result names rule 'nope', which was never declared$"):
        log.add(Result("nope", "x"))


def test_sarif_bad_level_and_line_are_errors() -> None:
    """Levels outside SARIF's four and lines below 1 are refused."""
    with pytest.raises(ValueError, match="^result of r level 'fatal' is not a SARIF level"):
        Result("r", "m", level="fatal")
    with pytest.raises(ValueError, match="^location a.c: line 0 is invalid: SARIF lines and columns start at 1$"):
        Location("a.c", line=0)
    with pytest.raises(ValueError, match="^SARIF rule r is declared twice with different descriptions$"):
        SarifLog("t", "1", rules=[Rule("r", "a"), Rule("r", "b")])


def test_sarif_write_is_utf8(tmp_path: Path) -> None:
    """write() stores UTF-8 JSON that reads back equal to to_dict()."""
    log = _log(tmp_path)
    log.add(Result("stale-access", "ünïcode ✓", locations=[Location("x.toml", line=1)]))
    out = tmp_path / "o.sarif"
    log.write(out)
    assert json.loads(out.read_text(encoding="utf-8")) == log.to_dict()
