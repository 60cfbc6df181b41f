"""``highmem scan``: find kmap misuse in kernel C, compiler-style."""

from __future__ import annotations

import argparse
import json
import os
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
    p.add_argument("--sarif", metavar="FILE", help="also write the findings as SARIF 2.1.0 to FILE")
    p.add_argument("--baseline", metavar="FILE", help="report only findings not in FILE (an earlier --json output)")
    p.add_argument("--patch", metavar="FILE", help="review FILE.patch against the tree PATH: what it introduces "
                                                   "and what it fixes")
    p.add_argument("--scenarios", metavar="DIR", help="write a TOML scenario replaying each warning into DIR")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on a terminal")
    p.add_argument("--no-notes", action="store_true", help="print warnings only, not escape notes")
    p.add_argument("-v", "--verbose", action="store_true", help="also list functions that failed to parse")
    p.add_argument("--colour", choices=("auto", "always", "never"), default="auto", help="colour (default auto)")


def _review(args: argparse.Namespace, table: Any) -> int:
    """``--patch``: the warnings a patch introduces, and one summary line; 1 if it introduces any."""
    from highmem.scan import format_gcc
    from highmem.scan.patch import review_patch

    if len(args.paths) != 1:
        raise HighmemError(f"--patch takes one TREE, not {len(args.paths)} paths")
    rv = review_patch(args.patch, args.paths[0], table)
    colour = args.colour == "always" or (args.colour == "auto" and sys.stdout.isatty())
    for f in rv.introduced:
        sys.stdout.write(format_gcc(f, colour) + "\n")
    sys.stdout.write(f"highmem: the patch {rv.summary()}\n" if rv.introduced or rv.fixed else
                     f"highmem: {rv.summary()}\n")
    return 1 if rv.introduced else 0


def _check_target(path: str) -> None:
    """Refuse an output path that cannot be written before scanning, so bad input writes nothing."""
    if os.path.isdir(path):
        raise HighmemError(f"SARIF output {path} is a directory: name a file to write")
    parent = os.path.dirname(path) or "."
    if not os.path.isdir(parent):
        raise HighmemError(f"SARIF output {path} cannot be written: directory {parent} does not exist")


class _progress:
    """A progress bar of files scanned, on a terminal only and never with --json."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.bar: Any = None
        if not args.json and not args.no_progress and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                console=Console(stderr=True), transient=True)
        self.task: Any = None

    def __enter__(self) -> Any:
        if self.bar is None:
            return None
        self.bar.start()

        def tick(done: int, total: int) -> None:
            if self.task is None:
                self.task = self.bar.add_task("files", total=total)
            if done % 64 == 0 or done == total:
                self.bar.update(self.task, completed=done)
        return tick

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def run(args: argparse.Namespace) -> int:
    """Scan the paths; print findings; 0 nothing found, 1 findings, 2 bad input."""
    from highmem.scan import builtin_table, format_gcc, load_wrappers, scan_paths, to_json
    from highmem.scan.diagnostics import SCHEMA_VERSION

    if args.jobs < 1:
        raise HighmemError(f"--jobs {args.jobs} is not a positive number of processes")
    from highmem.scan.outputs import load_baseline, sarif_log

    table = load_wrappers(args.wrappers) if args.wrappers else builtin_table()
    if args.patch:
        return _review(args, table)
    known = load_baseline(args.baseline) if args.baseline else set()
    if args.sarif:
        _check_target(args.sarif)
    if args.scenarios and os.path.exists(args.scenarios) and not os.path.isdir(args.scenarios):
        raise HighmemError(f"--scenarios {args.scenarios} is a file: name a directory to write scenarios into")
    with _progress(args) as progress:
        res = scan_paths(list(args.paths), table, jobs=args.jobs, progress=progress)
    findings = [f for f in res.findings if not (args.no_notes and f.severity == "note") and f.fingerprint not in known]
    if args.scenarios:
        from highmem.scan.replay import write_scenarios

        written = write_scenarios(findings, args.scenarios)
        sys.stderr.write(f"highmem: {len(written)} scenarios written to {args.scenarios}\n")
    if args.sarif:
        from highmem import __version__
        from highmem.report.output import write_text

        write_text(args.sarif, sarif_log(findings, __version__).dumps(), "SARIF output")
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
