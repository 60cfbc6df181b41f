"""``highmem scan``: find kmap misuse in kernel C, compiler-style."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from highmem.errors import HighmemError

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``scan`` on the subcommand table ``sub``."""
    p = sub.add_parser("scan", help="scan kernel C sources for kmap misuse")
    p.add_argument("paths", nargs="+", metavar="PATH", help="C files or directories (their .c files)")
    p.add_argument("--jobs", "-j", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--wrappers", metavar="FILE", help="TOML table of extra map/unmap wrappers and sleeping calls")
    p.add_argument("--json", action="store_true", help="print one JSON object (schema highmem-scan, version 1)")
    p.add_argument("--no-notes", action="store_true", help="print warnings only, not escape notes")
    p.add_argument("-v", "--verbose", action="store_true", help="also list functions that failed to parse")
    p.add_argument("--colour", choices=("auto", "always", "never"), default="auto", help="colour (default auto)")


def run(args: argparse.Namespace) -> int:
    """Scan the paths; print findings; 0 nothing found, 1 findings, 2 bad input."""
    from highmem.scan import builtin_table, format_gcc, load_wrappers, scan_paths, to_json
    from highmem.scan.diagnostics import SCHEMA_VERSION

    if args.jobs < 1:
        raise HighmemError(f"--jobs {args.jobs} is not a positive number of processes")
    table = load_wrappers(args.wrappers) if args.wrappers else builtin_table()
    res = scan_paths(list(args.paths), table, jobs=args.jobs)
    findings = [f for f in res.findings if not (args.no_notes and f.severity == "note")]
    stats = {"files": res.files, "files_parsed": res.files_parsed, "functions": res.functions,
             "parse_failures": len(res.failures), "over_budget": len(res.budget), "suppressed": res.suppressed}
    if args.json:
        json.dump({"schema": "highmem-scan", "version": SCHEMA_VERSION, "stats": stats,
                   "findings": [to_json(f) for f in findings]}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        colour = args.colour == "always" or (args.colour == "auto" and sys.stdout.isatty())
        for f in findings:
            sys.stdout.write(format_gcc(f, colour) + "\n")
        if args.verbose:
            for path, name, line in res.failures:
                sys.stderr.write(f"{path}:{line}: highmem: could not parse function {name}(); skipped\n")
            for path, name, line in res.budget:
                sys.stderr.write(f"{path}:{line}: highmem: {name}() has too many paths; analysed in part\n")
            sys.stderr.write(f"highmem: {res.files} files, {res.files_parsed} parsed, {res.functions} functions, "
                             f"{len(res.failures)} parse failures, "
                             f"{sum(1 for f in findings if f.severity == 'warning')} warnings\n")
    return 1 if any(f.severity == "warning" for f in findings) else 0
