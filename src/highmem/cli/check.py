"""``highmem check``: explore schedules of scenarios, report findings, replay a schedule file."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from highmem.cli.common import check_depth, check_schedules, check_strategy, console, progress_bar
from highmem.errors import HighmemError

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``check`` on the subcommand table ``sub``."""
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
    chk.add_argument("--html", metavar="DIR", help="write an HTML report per scenario here (its first finding, "
                     "or schedule 0 when clean)")
    chk.add_argument("--trace-format", metavar="FORMAT", default=None,
                     help="format of --trace and --out traces: jsonl (default), perfetto or ftrace")
    chk.add_argument("--expected-ok", action="store_true",
                     help="pass (exit 0) when each scenario finds exactly the kinds its expect list names")
    chk.add_argument("--junit", metavar="FILE", help="write a JUnit XML report: one test case per scenario and "
                     "finding kind expected or found")
    chk.add_argument("--sarif", metavar="FILE", help="write a SARIF 2.1.0 log: each finding at the scenario "
                     "file and line of the operations involved")
    chk.add_argument("--schedule", metavar="K", type=int, default=None,
                     help="with --trace/--html: draw the K-th schedule explored (0 is the first) instead")


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

    from highmem.sim.schedule import save_schedule

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
        from highmem.report.exports import write_kind_trace

        write_kind_trace(out, stem, {"finding": kind}, ex.scenario, ex.config, rep.choices,
                         getattr(args, "trace_format", None) or "jsonl")
        files[kind] = str(path)
    return files


def _replay(args: argparse.Namespace) -> int:
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
    if args.trace or args.html or args.out:
        from highmem.report.exports import write_replay_outputs

        write_replay_outputs(args, doc, sc, cfg)
    kinds = sorted({f.kind for f in res.findings})
    want = doc.get("finding", {}).get("kind")
    reproduced = want in kinds and res.steps == doc.get("steps", res.steps)
    if args.json:
        print(json.dumps({"scenario": sc.name, "replay": args.replay, "reproduced": reproduced, "steps": res.steps,
                          "schedules": 1, "findings": [f.to_dict() for f in res.findings]}, indent=2))
    else:
        c = console()
        c.print(f"replayed {args.replay}: {sc.name} on {cfg.profile}, {res.steps} steps, "
                f"{'reproduced' if reproduced else 'DID NOT reproduce'} {want}", highlight=False)
        for f in res.findings:
            c.print(f"  {f.kind}: {f.message}", highlight=False, markup=False)
    if not reproduced:
        sys.stderr.write(f"highmem: replay of {args.replay} diverged: it recorded {want} in {doc.get('steps')} "
                         f"steps but the run gave {', '.join(kinds) or 'no finding'} in {res.steps} steps\n")
        return 2
    return 1 if res.findings else 0


def run(args: argparse.Namespace) -> int:
    """Explore every named scenario (or replay ``--replay``) and print what the checker found."""
    from highmem.scenarios import builtin_names, resolve

    if args.replay:
        for opt in ("junit", "sarif", "expected_ok"):
            if getattr(args, opt):
                raise HighmemError(f"--{opt.replace('_', '-')} applies only to an exploration, not to --replay")
        return _replay(args)
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
    check_schedules(args.schedules)
    check_depth(args.depth)
    check_strategy(args.strategy)
    from highmem.report.ci import check_output_target

    for opt in ("junit", "sarif"):
        if getattr(args, opt):
            check_output_target(getattr(args, opt), f"--{opt}")
    if args.trace or args.html or args.trace_format is not None or args.schedule is not None:
        from highmem.report.html import check_report_targets

        check_report_targets(args)
    # rich only when a table or a progress bar is drawn: --json output never needs it.
    con = None if args.json else console()
    progress = progress_bar(con, args) if con is not None else None
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
    from highmem.report.ci import verdict

    # Decided before printing, so a reader that stops early (`| head`) cannot change it.
    args.exit_status = 1 if any(verdict(ex, args.expected_ok) for ex in exs) else 0
    try:
        _print_results(exs, args, con, files)
    except BrokenPipeError:
        from highmem.cli import _silence_stdout

        _silence_stdout()
    return _ci_outputs(exs, args)


def _print_results(exs: list[Any], args: argparse.Namespace, con: Any, files: dict[str, dict[str, str]]) -> None:
    from highmem.report.check import exploration_json, render_explorations

    if args.json:
        runs = [exploration_json(ex, files) for ex in exs]
        if len(runs) == 1:
            print(json.dumps(runs[0], indent=2))
        else:
            print(json.dumps({"runs": runs, "schedules": sum(r["schedules"] for r in runs),
                              "steps": sum(r["steps"] for r in runs)}, indent=2))
    else:
        render_explorations(exs, con, files, details=not args.quiet)
    sys.stdout.flush()


def _ci_outputs(exs: list[Any], args: argparse.Namespace) -> int:
    """Write ``--junit``/``--sarif``, say why each failing scenario fails, and return the exit status."""
    from highmem.report.ci import check_sarif, junit_xml, verdict
    from highmem.report.output import write_text

    reasons = [r for r in (verdict(ex, args.expected_ok) for ex in exs) if r is not None]
    status = 1 if reasons else 0
    if args.junit:
        write_text(args.junit, junit_xml(exs, args.expected_ok), "--junit")
    if args.sarif:
        log = check_sarif(exs, args.expected_ok, exit_code=status, arguments=list(getattr(args, "argv", [])))
        write_text(args.sarif, log.dumps(), "--sarif")
    if args.expected_ok:
        for r in reasons:
            sys.stderr.write(f"highmem: {r}\n")
    return status
