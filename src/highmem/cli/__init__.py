"""The ``highmem`` command line: one module per subcommand, each with ``add_parser(sub)`` and
``run(args) -> int``.

Exit status: 0 success (nothing found), 1 findings, 2 bad input.  A user
mistake prints one sentence on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from highmem.cli.common import Parser
from highmem.errors import HighmemError

__all__ = ["main"]

#: Subcommand name -> module under ``highmem.cli``; a module is imported only to build the
#: parser, and only the chosen one runs.
SUBCOMMANDS = {"layout": "layout", "check": "check", "report": "report", "compare": "compare",
               "scenarios": "scenarios",
               "scan": "scan"}


def _build_parser() -> argparse.ArgumentParser:
    from highmem import __version__

    p = Parser(prog="highmem", description="An executable model of Linux's atomic high-memory mappings.")
    p.add_argument("--version", action="version", version=f"highmem {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=Parser)
    for mod in SUBCOMMANDS.values():
        importlib.import_module(f"highmem.cli.{mod}").add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``highmem`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:
        # The cheapest command: no subcommand module, no rich, no model.
        from highmem import __version__

        sys.stdout.write(f"highmem {__version__}\n")
        return 0
    parser = _build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return _dispatch(args)
    except HighmemError as e:
        sys.stderr.write(f"highmem: {e}\n")
        return 2
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: stop quietly, as Unix tools do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _dispatch(args: argparse.Namespace) -> int:
    mod = importlib.import_module(f"highmem.cli.{SUBCOMMANDS[args.command]}")
    return int(mod.run(args))
