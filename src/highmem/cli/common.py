"""What every subcommand of the ``highmem`` command line shares: the argument parser class, the
machine options, the console and the progress bar, and the checks of option values.

Nothing here runs a model; importing it costs only ``argparse``.
"""

from __future__ import annotations

import argparse
import sys

from highmem.errors import HighmemError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

__all__ = ["Parser", "MAX_PCT_DEPTH", "MAX_SCHEDULES", "MAX_SEED", "MAX_BOUND", "machine_options", "boot_machine",
           "console", "progress_bar", "check_depth", "check_strategy", "check_schedules", "check_seed",
           "check_bound", "check_jobs"]

#: PCT draws depth - 1 change points per schedule; beyond this a run is all change points.
MAX_PCT_DEPTH = 1000
#: Schedules per scenario: enough for any campaign, small enough that the count is never a typo.
MAX_SCHEDULES = 100_000_000
#: Seeds are 0 to 2**63 - 1 (the strategies mix them into 48 bits per schedule).
MAX_SEED = 2**63 - 1
#: Exhaustive preemption and interrupt bounds: far beyond what any search can finish.
MAX_BOUND = 1000

STRATEGIES = ("random", "pct", "exhaustive", "dpor")


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one ``highmem:`` line and exit status 2."""

    #: True while argparse builds a help formatter only to check an argument's metavar
    #: (``add_argument``) or to name the subcommands (``add_subparsers``).
    _building = False

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"highmem: {message}\n")
        raise SystemExit(2)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        self._building = True
        try:
            return super().add_argument(*args, **kwargs)
        finally:
            self._building = False

    def add_subparsers(self, **kwargs: Any) -> Any:
        self._building = True
        try:
            return super().add_subparsers(**kwargs)
        finally:
            self._building = False

    def _get_formatter(self) -> argparse.HelpFormatter:
        if self._building:
            # A help formatter without a width asks the terminal for one, importing shutil (and with it
            # bz2, lzma and fnmatch: about 2 ms of every start-up). The metavar check and the subcommand
            # prog ("highmem", far shorter than any width) do not depend on the width; help, usage and
            # version output still get the terminal's.
            # (typeshed's formatter_class protocol takes prog only; every HelpFormatter takes width.)
            formatter: Any = self.formatter_class
            return formatter(prog=self.prog, width=80)
        return super()._get_formatter()


def machine_options(p: argparse.ArgumentParser) -> None:
    """The options that describe a machine to boot (``layout``)."""
    p.add_argument("--profile", default="linux-2.4", help="kernel generation (default linux-2.4)")
    p.add_argument("--cpus", type=int, default=None, help="online CPUs (default 2; 1 with SMP=n)")
    p.add_argument("--nr-cpus", type=int, default=None, help="NR_CPUS (default 32 with SMP, 1 without)")
    p.add_argument("--pae", action="store_true", help="CONFIG_X86_PAE (HIGHMEM64G): 3-level tables, up to 64 GiB")
    p.add_argument("--km-types", default="2.4.22", help="km_type list: 2.4.22 (8 types) or book (6)")
    p.add_argument("--memory", default="2G", help="RAM size, e.g. 512M, 2G (default 2G)")
    p.add_argument("--config", action="append", default=[], metavar="NAME=y|n",
                   help="Kconfig option without CONFIG_, e.g. DEBUG_HIGHMEM=y (repeatable)")


def boot_machine(args: argparse.Namespace) -> Any:
    """Boot the machine the :func:`machine_options` describe."""
    from highmem.profiles import boot

    return boot(args.profile, cpus=args.cpus, nr_cpus=args.nr_cpus, pae=args.pae, km_types=args.km_types,
                memory=args.memory, config=args.config)


#: The width of output that goes to a pipe or a file when ``COLUMNS`` does not say.
PIPE_WIDTH = 100


def output_width(is_terminal: bool, terminal_width: int) -> int:
    """Columns to lay output out in: ``COLUMNS`` when set to a positive number, else the
    terminal's width on a terminal, else :data:`PIPE_WIDTH`."""
    import os

    cols = os.environ.get("COLUMNS", "").strip()
    if cols.isdigit() and int(cols) > 0:
        return int(cols)
    return terminal_width if is_terminal else PIPE_WIDTH


def console() -> Any:
    """A rich console: colour only on a terminal and without NO_COLOR; as wide as
    :func:`output_width` says (the terminal, ``COLUMNS``, or 100 columns when piped)."""
    from rich.console import Console

    c = Console()
    return Console(width=output_width(c.is_terminal, c.width))


def progress_bar(con: Any, args: argparse.Namespace) -> Any:
    """A live progress bar (schedules done, schedules/s, findings so far, time spent and an
    estimate of the time left) on a terminal, else None."""
    if not con.is_terminal or getattr(args, "json", False) or getattr(args, "quiet", False):
        return None
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("-- schedules/s" if speed is None else f"{speed:,.0f} schedules/s", style="cyan")

    class Found(ProgressColumn):
        def render(self, task: Task) -> Text:
            from highmem.words import plural

            return Text(plural(int(task.fields.get("findings", 0)), "finding"), style="red")

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), Rate(), Found(),
                        TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(), console=con, transient=True)
    progress.start()
    return progress


def check_depth(depth: int) -> None:
    """``--depth``: the PCT bug depth, 1 to :data:`MAX_PCT_DEPTH`."""
    if depth < 1:
        raise HighmemError(f"--depth {depth} is invalid: the PCT bug depth is at least 1")
    if depth > MAX_PCT_DEPTH:
        raise HighmemError(f"--depth {depth} is too large: PCT draws depth - 1 change points; use at most "
                           f"{MAX_PCT_DEPTH}")


def check_strategy(strategy: str) -> None:
    """``--strategy``: one of :data:`STRATEGIES`."""
    if strategy not in STRATEGIES:
        raise HighmemError(f"strategy {strategy!r} does not exist: choose random, pct, exhaustive or dpor")


def check_schedules(schedules: int) -> None:
    """``--schedules``: 1 to :data:`MAX_SCHEDULES`."""
    if schedules < 1:
        raise HighmemError(f"--schedules {schedules} is invalid: explore at least one schedule")
    if schedules > MAX_SCHEDULES:
        raise HighmemError(f"--schedules {schedules} is too large: explore at most {MAX_SCHEDULES} per scenario")


def check_seed(seed: int) -> None:
    """``--seed``: 0 to :data:`MAX_SEED`."""
    if not 0 <= seed <= MAX_SEED:
        raise HighmemError(f"--seed {seed} is out of range: a seed is 0 to {MAX_SEED}")


def check_bound(option: str, value: int) -> None:
    """``--max-preemptions`` / ``--max-interrupts``: 0 to :data:`MAX_BOUND`."""
    if value < 0:
        raise HighmemError(f"{option} {value} is invalid: a bound is 0 (none) or more")
    if value > MAX_BOUND:
        raise HighmemError(f"{option} {value} is too large: use at most {MAX_BOUND}")


def check_jobs(jobs: int, force: bool, available: int, max_jobs: int) -> int:
    """``--jobs``: at least 1, at most ``max_jobs``; more than the ``available`` CPUs only when
    ``force`` (otherwise capped, with one line on stderr).  Returns the worker count to use."""
    if jobs < 1:
        raise HighmemError(f"--jobs {jobs} is invalid: use at least one worker process")
    if jobs > max_jobs:
        raise HighmemError(f"--jobs {jobs} is too large: use at most {max_jobs} worker processes")
    if jobs > available and not force:
        sys.stderr.write(f"highmem: --jobs {jobs} capped at the {available} CPUs available (add --force-jobs to "
                         f"run {jobs} workers)\n")
        return available
    return jobs
