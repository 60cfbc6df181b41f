"""``highmem layout``: the kernel's virtual memory layout and the kmap slot table."""

from __future__ import annotations

import argparse
import json
from typing import Any

from highmem.cli.common import boot_machine, console, machine_options

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``layout`` on the subcommand table ``sub``."""
    lay = sub.add_parser("layout", help="print the kernel's virtual memory layout and the kmap slot table")
    machine_options(lay)
    lay.add_argument("--json", action="store_true", help="print one JSON object")
    lay.add_argument("--svg", metavar="FILE", help="also draw the top of the address space as SVG into FILE")


def run(args: argparse.Namespace) -> int:
    """Boot the machine the options describe and print (or draw) its layout."""
    from highmem.report.layout import layout_dict, render_layout

    m = boot_machine(args)
    if args.svg:
        from highmem.report.svg import write_layout_svg

        write_layout_svg(m, args.svg)
    if args.json:
        print(json.dumps(layout_dict(m), indent=2))
    else:
        render_layout(m, console())
    return 0
