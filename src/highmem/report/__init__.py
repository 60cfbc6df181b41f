"""Reports over the simulation: tables, traces, HTML pages, SARIF and JUnit, notebook displays.

Public names are imported on first use (PEP 562), as in :mod:`highmem`.
"""

from __future__ import annotations

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
    from typing import Any

    from highmem.report.ci import check_sarif, junit_xml
    from highmem.report.html import render_html
    from highmem.report.notebook import exploration_html, finding_html
    from highmem.report.sarif import Location, Result, Rule, SarifLog


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use and cache the name here."""
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'highmem.report' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value
