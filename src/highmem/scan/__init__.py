"""``highmem.scan``: static analysis of real kernel C for kmap misuse.

Layers, each importing only those below it: :mod:`~highmem.scan.parse` (tree-sitter),
:mod:`~highmem.scan.cfg` (structured control flow), :mod:`~highmem.scan.apis` (what kernel
functions do to mappings), :mod:`~highmem.scan.state` and :mod:`~highmem.scan.analysis` (the
path-sensitive walk, built on :mod:`~highmem.scan.values`, :mod:`~highmem.scan.paths`,
:mod:`~highmem.scan.conditions`, :mod:`~highmem.scan.expressions` and
:mod:`~highmem.scan.calls`), :mod:`~highmem.scan.rules` (one module per rule),
:mod:`~highmem.scan.diagnostics` (findings and their formats) and :mod:`~highmem.scan.driver`
(files, jobs, suppressions).  Nothing here imports :mod:`highmem.sim`.
"""

from __future__ import annotations

from highmem.scan.apis import ApiTable, builtin_table, load_wrappers
from highmem.scan.diagnostics import RULES, Finding, Note, format_gcc, to_json
from highmem.scan.driver import ScanResult, scan_paths, scan_source

__all__ = ["ApiTable", "builtin_table", "load_wrappers", "RULES", "Finding", "Note", "format_gcc", "to_json",
           "ScanResult", "scan_paths", "scan_source"]
