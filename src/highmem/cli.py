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
    lay.add_argument("--svg", metavar="FILE", help="also draw the top of the address space as SVG into FILE")
    chk = sub.add_parser("check", help="explore schedules of scenarios and report misuses of atomic kmaps")
    chk.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                     help="built-in names, .toml files or Python scenarios (default: every built-in)")
    chk.add_argument("--profile", default=None, help="kernel generation (default: the scenario's)")
    chk.add_argument("--strategy", default="pct", help="random, pct or exhaustive (default pct)")
    chk.add_argument("--schedules", type=int, default=100, help="schedules per scenario (default 100)")
    chk.add_argument("--seed", type=int, default=0, help="seed of the strategy (default 0)")
    chk.add_argument("--depth", type=int, default=2, help="PCT bug depth d (default 2)")
    chk.add_argument("--max-preemptions", type=int, default=2, help="exhaustive: preemption bound (default 2)")
    chk.add_argument("--max-interrupts", type=int, default=2, help="exhaustive: interrupt bound (default 2)")
    chk.add_argument("--replay", metavar="FILE", help="replay a schedule file written by --out")
    chk.add_argument("--config", action="append", default=[], metavar="NAME=y|n",
                     help="override a Kconfig option of the scenario's machine (repeatable)")
    chk.add_argument("--no-shrink", action="store_true", help="report first failing schedules unshrunk")
    chk.add_argument("--json", action="store_true", help="print one JSON object")
    chk.add_argument("--out", metavar="DIR", help="write each failing schedule and its trace here")
    chk.add_argument("-q", "--quiet", action="store_true", help="print the summary table only")
    chk.add_argument("--jobs", type=int, default=1, help="worker processes for random/pct schedules (default 1)")
    chk.add_argument("--executor", default="process", help="process (a local pool) or dask (a cluster)")
    chk.add_argument("--scheduler", default=None, metavar="ADDRESS",
                     help="dask scheduler address, e.g. tcp://127.0.0.1:8786 (with --executor dask)")
    chk.add_argument("--trace", metavar="FILE", help="write every event of the first failing schedule as JSON Lines")
    chk.add_argument("--html", metavar="DIR", help="write an HTML report per scenario with findings here")
    rpt = sub.add_parser("report", help="write the HTML report of a trace file")
    rpt.add_argument("trace", metavar="TRACE", help="a trace file written by check --trace or --out")
    rpt.add_argument("-o", "--output", metavar="FILE", required=True, help="the HTML file to write")
    cmp = sub.add_parser("compare", help="run scenarios on every kernel generation and compare the findings")
    cmp.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="built-in names, .toml or Python scenarios")
    cmp.add_argument("--profiles", default=None, help="comma-separated profiles (default: all four)")
    cmp.add_argument("--strategy", default="pct", help="random, pct or exhaustive (default pct)")
    cmp.add_argument("--schedules", type=int, default=100, help="schedules per scenario and profile (default 100)")
    cmp.add_argument("--seed", type=int, default=0, help="seed of the strategy (default 0)")
    cmp.add_argument("--depth", type=int, default=2, help="PCT bug depth d (default 2)")
    cmp.add_argument("--config", action="append", default=[], metavar="NAME=y|n",
                     help="override a Kconfig option on every profile (repeatable)")
    cmp.add_argument("--json", action="store_true", help="print one JSON object")
    cmp.add_argument("-q", "--quiet", action="store_true", help="print the table only")
    cmp.add_argument("--trace", metavar="FILE", help="write every event of the first failing schedule as JSON Lines")
    sc = sub.add_parser("scenarios", help="list the built-in scenarios")
    sc.add_argument("--json", action="store_true", help="print JSON")
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


def _progress(console: Any, args: argparse.Namespace) -> Any:
    """A live progress bar (schedules done, schedules/s, findings so far) on a terminal, else None."""
    if not console.is_terminal or getattr(args, "json", False) or getattr(args, "quiet", False):
        return None
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("-- schedules/s" if speed is None else f"{speed:,.0f} schedules/s", style="cyan")

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), Rate(),
                        TextColumn("[red]{task.fields[findings]} findings"), TimeElapsedColumn(),
                        console=console, transient=True)
    progress.start()
    return progress


def _cmd_layout(args: argparse.Namespace) -> int:
    from highmem.report.layout import layout_dict, render_layout

    m = _machine(args)
    if args.svg:
        from highmem.report.svg import write_layout_svg

        write_layout_svg(m, args.svg)
    if args.json:
        print(json.dumps(layout_dict(m), indent=2))
    else:
        render_layout(m, _console())
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from highmem.report.html import cmd_report

    return int(cmd_report(args))


def _cmd_scenarios(args: argparse.Namespace) -> int:
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
    _console().print(t)
    return 0


def _check_one(sc: Any, args: argparse.Namespace, progress: Any) -> Any:
    from highmem.sim.explore import explore

    cfg = sc.config(args.profile, args.config)
    task = None
    if progress is not None:
        task = progress.add_task(sc.name, total=args.schedules, findings=0)

    def tick(done: int, found: int) -> None:
        if progress is not None:
            progress.update(task, completed=done, findings=found)

    runner = None
    if args.parallel is not None and args.strategy != "exhaustive":
        from highmem.sim.parallel import ChunkRunner

        make, workers = args.parallel
        runner = ChunkRunner(sc, cfg, make, workers, progress=lambda n: tick(n, 0))
    ex = explore(sc, cfg, strategy=args.strategy, schedules=args.schedules, seed=args.seed, depth=args.depth,
                 max_preemptions=args.max_preemptions, max_interrupts=args.max_interrupts,
                 do_shrink=not args.no_shrink, progress=tick, runner=runner)
    for a, b in ex.unexplored:
        sys.stderr.write(f"highmem: {sc.name}: schedules {a} to {b - 1} (seed {args.seed}) were not explored: "
                         "their worker died twice\n")
    return ex


def _write_out(ex: Any, args: argparse.Namespace) -> dict[str, str]:
    from pathlib import Path

    from highmem.sim.explore import run_once
    from highmem.sim.schedule import save_schedule
    from highmem.sim.strategy import SparseReplayStrategy

    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise HighmemError(f"--out {out} cannot be used as a directory: {e.strerror or e}") from None
    files: dict[str, str] = {}
    for kind, rep in ex.by_kind.items():
        stem = f"{ex.scenario.name}.{kind}"
        path = out / f"{stem}.schedule.json"
        save_schedule(path, {
            "scenario": ex.scenario.source or ex.scenario.name, "digest": ex.scenario.digest,
            "profile": ex.config.profile, "config": list(args.config), "strategy": ex.strategy, "seed": ex.seed,
            "schedule_index": rep.first_schedule, "steps": rep.steps,
            "finding": {"kind": kind, "message": rep.finding.message},
            "choices": [list(c) for c in rep.choices]})
        res, rec = run_once(ex.scenario, ex.config, SparseReplayStrategy(rep.choices), trace=True)
        rec.write_jsonl(out / f"{stem}.trace.jsonl", {
            "scenario": ex.scenario.name, "profile": ex.config.profile, "finding": kind, "steps": res.steps,
            "cpus": ex.config.cpus, "events": len(rec.records), "choices": [list(c) for c in res.choices],
            "findings": [f.to_dict() for f in res.findings]})
        files[kind] = str(path)
    return files


def _cmd_replay(args: argparse.Namespace) -> int:
    from highmem.scenarios import resolve
    from highmem.sim.explore import run_once
    from highmem.sim.schedule import load_schedule
    from highmem.sim.strategy import SparseReplayStrategy

    doc = load_schedule(args.replay)
    if args.profile is not None and args.profile != doc.get("profile"):
        raise HighmemError(f"--profile {args.profile} does not apply to --replay: {args.replay} was recorded on "
                           f"{doc.get('profile')}, and a schedule only replays on its own profile")
    name = args.scenarios[0] if args.scenarios else doc["scenario"].removeprefix("builtin:")
    sc = resolve(name)
    if sc.digest != doc["digest"]:
        raise HighmemError(f"schedule {args.replay} was recorded for scenario {doc['scenario']} with digest "
                           f"{doc['digest']}, but it now has digest {sc.digest}: the scenario changed, so the "
                           "schedule no longer applies")
    cfg = sc.config(doc.get("profile"), list(doc.get("config", [])) + list(args.config))
    res, _ = run_once(sc, cfg, SparseReplayStrategy(doc["choices"], strict=True))
    kinds = sorted({f.kind for f in res.findings})
    want = doc.get("finding", {}).get("kind")
    reproduced = want in kinds and res.steps == doc.get("steps", res.steps)
    if args.json:
        print(json.dumps({"scenario": sc.name, "replay": args.replay, "reproduced": reproduced, "steps": res.steps,
                          "schedules": 1, "findings": [f.to_dict() for f in res.findings]}, indent=2))
    else:
        c = _console()
        c.print(f"replayed {args.replay}: {sc.name} on {cfg.profile}, {res.steps} steps, "
                f"{'reproduced' if reproduced else 'DID NOT reproduce'} {want}", highlight=False)
        for f in res.findings:
            c.print(f"  {f.kind}: {f.message}", highlight=False, markup=False)
    if not reproduced:
        sys.stderr.write(f"highmem: replay of {args.replay} diverged: it recorded {want} in {doc.get('steps')} "
                         f"steps but the run gave {', '.join(kinds) or 'no finding'} in {res.steps} steps\n")
        return 2
    return 1 if res.findings else 0


def _cmd_check(args: argparse.Namespace) -> int:
    from highmem.scenarios import builtin_names, resolve

    if args.replay:
        return _cmd_replay(args)
    names = args.scenarios or builtin_names()
    scenarios = [resolve(n) for n in names]
    args.parallel = None
    client = None
    if args.jobs < 1:
        raise HighmemError(f"--jobs {args.jobs} is invalid: use at least one worker process")
    if args.executor not in ("process", "dask"):
        raise HighmemError(f"executor {args.executor!r} does not exist: choose process or dask")
    if args.executor == "dask":
        if not args.scheduler:
            raise HighmemError("--executor dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786)")
        from highmem.sim.parallel import dask_executor

        make, workers, client = dask_executor(args.scheduler)
        args.parallel = (make, workers)
    elif args.scheduler:
        raise HighmemError("--scheduler applies only to --executor dask")
    elif args.jobs > 1:
        from highmem.sim.parallel import process_pool

        args.parallel = (process_pool(args.jobs), args.jobs)
    if args.schedules < 1:
        raise HighmemError(f"--schedules {args.schedules} is invalid: explore at least one schedule")
    _check_depth(args.depth)
    if args.strategy not in ("random", "pct", "exhaustive"):
        raise HighmemError(f"strategy {args.strategy!r} does not exist: choose random, pct or exhaustive")
    if args.trace or args.html:
        from highmem.report.html import check_report_targets

        check_report_targets(args)
    console = _console()
    progress = _progress(console, args)
    try:
        exs = [_check_one(sc, args, progress) for sc in scenarios]
    finally:
        if progress is not None:
            progress.stop()
        if client is not None:
            client.close()
    files: dict[str, dict[str, str]] = {}
    if args.out:
        for ex in exs:
            files[ex.scenario.name] = _write_out(ex, args)
    if args.trace or args.html:
        from highmem.report.html import write_check_reports

        write_check_reports(exs, args)
    from highmem.report.check import exploration_json, render_explorations

    if args.json:
        runs = [exploration_json(ex, files) for ex in exs]
        if len(runs) == 1:
            print(json.dumps(runs[0], indent=2))
        else:
            print(json.dumps({"runs": runs, "schedules": sum(r["schedules"] for r in runs),
                              "steps": sum(r["steps"] for r in runs)}, indent=2))
    else:
        render_explorations(exs, console, files, details=not args.quiet)
    return 1 if any(ex.counts for ex in exs) else 0


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


def _check_depth(depth: int) -> None:
    if depth < 1:
        raise HighmemError(f"--depth {depth} is invalid: the PCT bug depth is at least 1")
    if depth > MAX_PCT_DEPTH:
        raise HighmemError(f"--depth {depth} is too large: PCT draws depth - 1 change points; use at most "
                           f"{MAX_PCT_DEPTH}")


MAX_PCT_DEPTH = 1000


def _cmd_compare(args: argparse.Namespace) -> int:
    from highmem.scenarios import resolve
    from highmem.sim.compare import compare, parse_profiles

    profiles = parse_profiles(args.profiles)
    _check_depth(args.depth)
    _check_options_anywhere(args.config)
    if args.schedules < 1:
        raise HighmemError(f"--schedules {args.schedules} is invalid: explore at least one schedule")
    if args.strategy not in ("random", "pct", "exhaustive"):
        raise HighmemError(f"strategy {args.strategy!r} does not exist: choose random, pct or exhaustive")
    scenarios = [resolve(n) for n in args.scenarios]
    if args.trace:
        from highmem.report.trace_io import check_trace_target

        check_trace_target(args.trace)
    cells = compare(scenarios, profiles, strategy=args.strategy, schedules=args.schedules, seed=args.seed,
                    depth=args.depth, config=args.config)
    if args.trace:
        from highmem.report.trace_io import write_first_trace

        write_first_trace([c.exploration for c in cells if c.exploration is not None], args.trace, args.depth)
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
        console = _console()
        console.print(t)
        for c in cells:
            if c.status == "n/a" and not args.quiet:
                console.print(f"n/a: {c.scenario} on {c.profile}: {c.reason}", highlight=False, markup=False)
    return 1 if any(c.kinds for c in cells) else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``highmem`` console script; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
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
    commands = {"layout": _cmd_layout, "check": _cmd_check, "scenarios": _cmd_scenarios,
                "report": _cmd_report, "compare": _cmd_compare}
    return int(commands[args.command](args))


if __name__ == "__main__":
    raise SystemExit(main())
