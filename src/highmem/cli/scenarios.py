"""``highmem scenarios``: the built-in scenario library."""

from __future__ import annotations

import argparse
import json
from typing import Any

from highmem.cli.common import console

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``scenarios`` on the subcommand table ``sub``."""
    sc = sub.add_parser("scenarios", help="list the built-in scenarios")
    sc.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    """List every built-in with what it is expected to find."""
    from highmem.scenarios import builtin_names, load_builtin

    rows = []
    for name in builtin_names():
        sc = load_builtin(name)
        rows.append({"name": name, "description": sc.description, "reference": sc.reference,
                     "expect": sorted(sc.expect), "profile": sc.machine.get("profile", "linux-2.4")})
    if args.json:
        print(json.dumps({"scenarios": rows}, indent=2))
        return 0
    from rich.table import Table

    t = Table(title="built-in scenarios", title_justify="left")
    for col in ("name", "expect", "description"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["name"], ", ".join(r["expect"]) or "clean", r["description"])
    console().print(t)
    return 0
