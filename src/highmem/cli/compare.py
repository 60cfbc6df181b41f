"""``highmem compare``: one scenario on every kernel generation, findings side by side."""

from __future__ import annotations

import argparse
import json
from typing import Any

from highmem.cli.common import check_depth, check_schedules, check_seed, check_strategy, console
from highmem.errors import HighmemError

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``compare`` on the subcommand table ``sub``."""
    cmp = sub.add_parser("compare", help="run scenarios on every kernel generation and compare the findings")
    cmp.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="built-in names, .toml or Python scenarios")
    cmp.add_argument("--profiles", default=None, help="comma-separated profiles (default: all four)")
    cmp.add_argument("--strategy", default="pct", help="random, pct, exhaustive or dpor (default pct)")
    cmp.add_argument("--schedules", type=int, default=100, help="schedules per scenario and profile (default 100)")
    cmp.add_argument("--seed", type=int, default=0, help="seed of the strategy (default 0)")
    cmp.add_argument("--depth", type=int, default=2, help="PCT bug depth d (default 2)")
    cmp.add_argument("--config", action="append", default=[], metavar="NAME=y|n",
                     help="override a Kconfig option on every profile (repeatable)")
    cmp.add_argument("--json", action="store_true", help="print one JSON object")
    cmp.add_argument("-q", "--quiet", action="store_true", help="print the table only")
    cmp.add_argument("--trace", metavar="FILE", help="write every event of the first failing schedule as JSON Lines")
    cmp.add_argument("--trace-format", metavar="FORMAT", default=None,
                     help="format of --trace: jsonl (default), perfetto or ftrace")


def _check_options_anywhere(items: list[str]) -> None:
    """An option that no profile models is a typo, not an 'n/a' on every profile."""
    from highmem.profiles import PROFILE_NAMES, get_profile

    known = {o for p in PROFILE_NAMES for o in get_profile(p).options}
    for item in items:
        name = item.split("=", 1)[0].strip().removeprefix("CONFIG_")
        if "=" not in item:
            raise HighmemError(f"config setting {item!r} has no '=': write NAME=y or NAME=n")
        if name not in known:
            raise HighmemError(f"config option {name!r} is not modelled by any profile: known options are "
                               f"{', '.join(sorted(known))}")


def run(args: argparse.Namespace) -> int:
    """Explore each scenario on each profile and print the table of finding kinds."""
    from highmem.scenarios import resolve
    from highmem.sim.compare import compare, parse_profiles

    profiles = parse_profiles(args.profiles)
    check_depth(args.depth)
    _check_options_anywhere(args.config)
    check_schedules(args.schedules)
    check_seed(args.seed)
    check_strategy(args.strategy)
    scenarios = [resolve(n) for n in args.scenarios]
    if args.trace:
        from highmem.report.trace_io import check_trace_target

        check_trace_target(args.trace)
    if args.trace_format is not None:
        from highmem.report.exports import check_trace_format

        check_trace_format(args.trace_format)
    cells = compare(scenarios, profiles, strategy=args.strategy, schedules=args.schedules, seed=args.seed,
                    depth=args.depth, config=args.config)
    if args.trace:
        from highmem.report.trace_io import write_first_trace

        write_first_trace([c.exploration for c in cells if c.exploration is not None], args.trace, args.depth,
                          args.trace_format or "jsonl")
    if args.json:
        print(json.dumps({"profiles": profiles, "scenarios": [s.name for s in scenarios],
                          "strategy": args.strategy, "seed": args.seed, "schedules": args.schedules,
                          "results": [c.to_dict() for c in cells]}, indent=2))
    else:
        from rich.table import Table

        t = Table(title=f"highmem compare ({args.strategy}, {args.schedules} schedules, seed {args.seed})",
                  title_justify="left")
        t.add_column("scenario")
        for p in profiles:
            t.add_column(p)
        for s in scenarios:
            row = [s.name]
            for c in cells:
                if c.scenario != s.name:
                    continue
                if c.status == "n/a":
                    row.append("[dim]n/a[/]")
                elif c.kinds:
                    row.append("\n".join(f"[bold red]{k}[/]" for k in c.kinds))
                else:
                    row.append("[green]clean[/]")
            t.add_row(*row)
        con = console()
        con.print(t)
        for c in cells:
            if c.status == "n/a" and not args.quiet:
                con.print(f"n/a: {c.scenario} on {c.profile}: {c.reason}", highlight=False, markup=False)
    return 1 if any(c.kinds for c in cells) else 0
