"""Scan results in the formats for tools: SARIF 2.1.0 (through the generic builder in
:mod:`highmem.report.sarif`) and the baseline comparison of ``--baseline``."""

from __future__ import annotations

import json
from typing import Any

from highmem.errors import HighmemError
from highmem.scan.diagnostics import RULE_HELP, RULES, Finding

__all__ = ["sarif_log", "load_baseline"]

_LEVEL = {"warning": "warning", "note": "note"}


def sarif_log(findings: list[Finding], version: str) -> Any:
    """A :class:`highmem.report.sarif.SarifLog` of ``findings`` (one result each, notes as related places)."""
    from highmem.report.sarif import Location, Result, Rule, SarifLog

    rules = [Rule(f"highmem-{r}", RULE_HELP[r][0], name=r, help_text=RULE_HELP[r][1], level=_LEVEL[sev])
             for r, sev in RULES.items()]
    log = SarifLog("highmem-scan", version, rules=rules)
    for f in findings:
        log.add(Result(f"highmem-{f.rule}", f.message,
                       locations=[Location(f.path, line=f.line, column=f.column, logical=f.function,
                                           logical_kind="function")],
                       related=[Location(n.path, line=n.line, column=n.column, message=n.message) for n in f.notes],
                       fingerprints={"highmem/v1": f.fingerprint}))
    return log


def load_baseline(path: str) -> set[str]:
    """The fingerprints of the findings in an earlier ``highmem scan --json`` output."""
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except FileNotFoundError:
        raise HighmemError(f"baseline {path!r} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HighmemError(f"baseline {path!r} is not JSON: {e}") from None
    if not isinstance(doc, dict) or doc.get("schema") != "highmem-scan" or not isinstance(doc.get("findings"), list):
        raise HighmemError(f"baseline {path!r} is not the output of `highmem scan --json`")
    out = set()
    for f in doc["findings"]:
        if not isinstance(f, dict) or not isinstance(f.get("fingerprint"), str):
            raise HighmemError(f"baseline {path!r} has a finding without a fingerprint")
        out.add(f["fingerprint"])
    return out
