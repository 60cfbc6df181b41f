"""The ``highmem`` command line: one module per subcommand, each with ``add_parser(sub)`` and
``run(args) -> int``.

Exit status: 0 success (nothing found), 1 findings, 2 bad input.  A user
mistake prints one sentence on stderr, never a traceback.
"""

from __future__ import annotations

import sys

from highmem.errors import HighmemError

# Not typing: importing it would cost --version more than everything else it does.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

# argparse (with re, enum and gettext), highmem.cli.common (with typing) and importlib are imported
# when a parser is built, not here: `highmem --version` needs none of them.

__all__ = ["main", "SUBCOMMANDS", "EXAMPLES"]

#: Subcommand name -> module under ``highmem.cli``; a module is imported only to build the
#: parser, and only the chosen one runs.
SUBCOMMANDS = {"layout": "layout", "check": "check", "report": "report", "compare": "compare",
               "scenarios": "scenarios", "scan": "scan", "completion": "completion"}

#: Examples shown at the end of each subcommand's ``--help``; a subcommand module may define its
#: own ``EXAMPLES`` string instead.
EXAMPLES = {
    "layout": """\
  highmem layout                                  the 2.4 layout: fixmap, kmap slots, pkmap
  highmem layout --profile linux-2.6 --pae       another generation, PAE page tables
  highmem layout --json | jq '.slots[0]'          the slot table as JSON
  highmem layout --svg layout.svg                 also draw the top of the address space""",
    "check": """\
  highmem check                                   every built-in scenario, 100 PCT schedules each
  highmem check sleep-holding-kmap -q             one built-in, the summary only
  highmem check my.toml --strategy exhaustive     every schedule within the preemption bounds
  highmem check my.toml --strategy dpor           one schedule per class of equivalent ones
  highmem check --expected-ok --junit junit.xml --sarif check.sarif
                                                  the built-in library as a CI gate
  highmem check my.toml --out found/              save each finding's schedule and trace
  highmem check --replay found/my.stale-access.schedule.json""",
    "report": """\
  highmem check my.toml --trace t.jsonl && highmem report t.jsonl -o t.html""",
    "compare": """\
  highmem compare irq-uses-user-slot              one scenario on all four generations
  highmem compare my.toml --profiles linux-2.4,linux-2.6 --schedules 500""",
    "scenarios": """\
  highmem scenarios                               names, profiles, expected findings
  highmem scenarios --json""",
    "scan": """\
  highmem scan drivers/block/                     kmap misuse in kernel C, gcc-style warnings
  highmem scan fs/ --json > scan.json             the findings as JSON""",
    "completion": """\
  eval "$(highmem completion bash)"               bash, this shell only
  highmem completion zsh > ~/.zfunc/_highmem      zsh, with ~/.zfunc in fpath
  highmem completion fish > ~/.config/fish/completions/highmem.fish""",
}


def _build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``only``, a subcommand, the same parser with that subcommand alone
    (what parses ``highmem ONLY ...`` identically, without importing and building the other six)."""
    import argparse
    import importlib

    from highmem import __version__
    from highmem.cli.common import Parser

    p = Parser(prog="highmem", description="An executable model of Linux's atomic high-memory mappings.",
               epilog="Run `highmem COMMAND --help` for a command's options and examples.")
    p.add_argument("--version", action="version", version=f"highmem {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")
    for name, mod in SUBCOMMANDS.items():
        if only is not None and name != only:
            continue
        module = importlib.import_module(f"highmem.cli.{mod}")
        module.add_parser(sub)
        examples = getattr(module, "EXAMPLES", None) or EXAMPLES.get(name)
        sp = sub.choices.get(name)
        if sp is not None and examples:
            sp.epilog = "examples:\n" + examples
            sp.formatter_class = argparse.RawDescriptionHelpFormatter
    return p


def _leave_garbage_to_exit() -> None:
    """At interpreter exit, freeze the collector (:func:`gc.freeze`) before its final collections.

    Python's finalization runs full collections over every object still alive: about 7 ms, an
    eighth of a `highmem check NAME --schedules 1`, spent freeing memory the process is about to
    return to the system anyway. Frozen, those objects are left to the exit instead. Nothing the
    command does waits on them: its outputs are written and closed (report.output), stdout and
    stderr are flushed by the interpreter as always, and atexit handlers registered later (pools,
    dask) still run, first. Only for the program itself: a caller of ``main(argv)`` in a longer
    process (the tests) keeps its collector as it is.
    """
    import atexit
    import gc

    atexit.register(gc.freeze)


def _silence_stdout() -> None:
    """The reader of stdout went away (``| head``): send the rest to /dev/null, as Unix tools stop."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``highmem`` console script; returns the exit status.

    Without ``argv`` it is the program (the console script, ``python -m highmem``): the process
    then ends without its last garbage collections (:func:`_leave_garbage_to_exit`).
    """
    if argv is None:
        _leave_garbage_to_exit()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:
        # The cheapest command: no subcommand module, no rich, no model.
        from highmem import __version__

        sys.stdout.write(f"highmem {__version__}\n")
        return 0
    for stream in (sys.stdout, sys.stderr):
        # A terminal or file that cannot encode a character gets "?" for it, never a traceback.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="replace")
            except (ValueError, OSError):
                pass
    try:
        # The first argument a subcommand: argparse hands everything after it to that subcommand's
        # parser, so the others are never needed (their names appear only in the top-level help and
        # the unknown-command error, neither possible then).
        parser = _build_parser(argv[0] if argv and argv[0] in SUBCOMMANDS else None)
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        sys.stderr.write("highmem: interrupted\n")
        return 130
    args.argv = argv
    if args.command is None:
        parser.print_help()
        return 2
    try:
        status = _dispatch(args)
        sys.stdout.flush()
        return status
    except HighmemError as e:
        from highmem.report.terminal import escape_controls

        sys.stderr.write(f"highmem: {escape_controls(str(e))}\n")
        return 2
    except KeyboardInterrupt:
        # Ctrl-C: the pools are already stopped (sim.parallel) and every file is whole or absent
        # (report.output); one line, and the shell's status for SIGINT.
        sys.stderr.write("highmem: interrupted\n")
        return 130
    except BrokenPipeError:
        # The results decided the status before the output stopped (``exit_status``, set by a
        # subcommand before it prints); the reader leaving does not change it.
        _silence_stdout()
        return int(getattr(args, "exit_status", 0))


def _dispatch(args: argparse.Namespace) -> int:
    import importlib

    mod = importlib.import_module(f"highmem.cli.{SUBCOMMANDS[args.command]}")
    return int(mod.run(args))
