"""``highmem report``: the HTML report of a trace file."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``report`` on the subcommand table ``sub``."""
    rpt = sub.add_parser("report", help="write the HTML report of a trace file")
    rpt.add_argument("trace", metavar="TRACE", help="a trace file written by check --trace or --out")
    rpt.add_argument("-o", "--output", metavar="FILE", required=True, help="the HTML file to write")
    rpt.add_argument("--trace-format", metavar="FORMAT", default=None,
                     help="write the trace in this format instead of HTML: perfetto, ftrace or jsonl")


def run(args: argparse.Namespace) -> int:
    """Read the trace and write its HTML report."""
    import os

    from highmem.errors import HighmemError
    from highmem.report.html import cmd_report

    src, dst = os.path.realpath(args.trace), os.path.realpath(args.output)
    same = src == dst
    if not same and os.path.exists(dst):
        try:
            same = os.path.samefile(src, dst)
        except OSError:
            same = False
    if same:
        raise HighmemError(f"report {args.trace} -o {args.output} would overwrite the trace it reads: name another "
                           "output file")
    return int(cmd_report(args))
