"""The ``highmem`` command line.

Exit status: 0 success (nothing found), 1 findings, 2 bad input.  A user
mistake prints one sentence on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from highmem.errors import HighmemError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"highmem: {message}\n")
        raise SystemExit(2)


def _machine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default="linux-2.4", help="kernel generation (default linux-2.4)")
    p.add_argument("--cpus", type=int, default=None, help="online CPUs (default 2; 1 with SMP=n)")
    p.add_argument("--nr-cpus", type=int, default=None, help="NR_CPUS (default 32 with SMP, 1 without)")
    p.add_argument("--pae", action="store_true", help="CONFIG_X86_PAE (HIGHMEM64G): 3-level tables, up to 64 GiB")
    p.add_argument("--km-types", default="2.4.22", help="km_type list: 2.4.22 (8 types) or book (6)")
    p.add_argument("--memory", default="2G", help="RAM size, e.g. 512M, 2G (default 2G)")
    p.add_argument("--config", action="append", default=[], metavar="NAME=y|n",
                   help="Kconfig option without CONFIG_, e.g. DEBUG_HIGHMEM=y (repeatable)")


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="highmem", description="An executable model of Linux's atomic high-memory mappings.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    lay = sub.add_parser("layout", help="print the kernel's virtual memory layout and the kmap slot table")
    _machine_options(lay)
    lay.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def _machine(args: argparse.Namespace) -> Any:
    from highmem.kernel.machine import boot

    return boot(args.profile, cpus=args.cpus, nr_cpus=args.nr_cpus, pae=args.pae, km_types=args.km_types,
                memory=args.memory, config=args.config)


def _console() -> Any:
    """A rich console: colour only on a terminal and without NO_COLOR; 120 columns when piped."""
    from rich.console import Console

    c = Console()
    if not c.is_terminal:
        c = Console(width=120)
    return c


def _cmd_layout(args: argparse.Namespace) -> int:
    from highmem.report.layout import layout_dict, render_layout

    m = _machine(args)
    if args.json:
        print(json.dumps(layout_dict(m), indent=2))
    else:
        render_layout(m, _console())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``highmem`` console script; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int({"layout": _cmd_layout}[args.command](args))
    except HighmemError as e:
        sys.stderr.write(f"highmem: {e}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
