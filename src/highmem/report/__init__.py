"""Reports over the simulation: tables, traces, HTML pages, SARIF and JUnit, notebook displays.

Public names are imported on first use (PEP 562), as in :mod:`highmem`.
"""

from __future__ import annotations

from highmem._lazy import lazy_exports

TYPE_CHECKING = False

_EXPORTS = {
    "SarifLog": "highmem.report.sarif", "Rule": "highmem.report.sarif", "Location": "highmem.report.sarif",
    "Result": "highmem.report.sarif", "render_html": "highmem.report.html",
    "exploration_html": "highmem.report.notebook", "finding_html": "highmem.report.notebook",
    "junit_xml": "highmem.report.ci", "check_sarif": "highmem.report.ci",
}

__all__ = ["Location", "Result", "Rule", "SarifLog", "check_sarif", "exploration_html", "finding_html", "junit_xml",
           "render_html"]

if TYPE_CHECKING:
    from highmem.report.ci import check_sarif, junit_xml
    from highmem.report.html import render_html
    from highmem.report.notebook import exploration_html, finding_html
    from highmem.report.sarif import Location, Result, Rule, SarifLog


__getattr__, __dir__ = lazy_exports("highmem.report", _EXPORTS, globals())
