"""``highmem check``: explore schedules of scenarios, report findings, replay a schedule file."""

from __future__ import annotations

import argparse
import json
import sys

from highmem.cli.common import (
    check_bound,
    check_depth,
    check_jobs,
    check_schedules,
    check_seed,
    check_strategy,
    console,
    progress_bar,
)
from highmem.errors import HighmemError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``check`` on the subcommand table ``sub``."""
    chk = sub.add_parser("check", help="explore schedules of scenarios and report misuses of atomic kmaps")
    chk.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                     help="built-in names, .toml files or Python scenarios (default: every built-in)")
    chk.add_argument("--profile", default=None, help="kernel generation (default: the scenario's)")
    chk.add_argument("--strategy", default="pct", help="random, pct, exhaustive or dpor (default pct)")
    chk.add_argument("--schedules", type=int, default=100, help="schedules per scenario (default 100)")
    chk.add_argument("--seed", type=int, default=0, help="seed of the strategy (default 0)")
    chk.add_argument("--depth", type=int, default=2, help="PCT bug depth d (default 2)")
    chk.add_argument("--max-preemptions", type=int, default=2, help="exhaustive, dpor: preemption bound (default 2)")
    chk.add_argument("--max-interrupts", type=int, default=2, help="exhaustive, dpor: interrupt bound (default 2)")
    chk.add_argument("--replay", metavar="FILE", help="replay a schedule file written by --out")
    chk.add_argument("--config", action="append", default=[], metavar="NAME=y|n",
                     help="override a Kconfig option of the scenario's machine (repeatable)")
    chk.add_argument("--no-shrink", action="store_true", help="report first failing schedules unshrunk")
    chk.add_argument("--json", action="store_true", help="print one JSON object")
    chk.add_argument("--out", metavar="DIR", help="write each failing schedule and its trace here")
    chk.add_argument("-q", "--quiet", action="store_true", help="print the summary table only")
    chk.add_argument("--jobs", type=int, default=1, help="worker processes for random/pct schedules (default 1; "
                     "at most the CPUs available)")
    chk.add_argument("--force-jobs", action="store_true", help="allow more --jobs than CPUs available")
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


def _start_chunks(scenarios: list[Any], args: argparse.Namespace) -> list[Any]:
    """A ChunkRunner per scenario on one shared executor, every one's chunks submitted now.

    The workers then go from one scenario's chunks to the next without waiting for the parent,
    which collects and shrinks each scenario in turn meanwhile; PCT's k is calibrated here, one
    scenario at a time, so that the first scenario's chunks start after its calibration alone.
    """
    from highmem.sim.explore import pct_k
    from highmem.sim.parallel import ChunkRunner, SharedExecutor

    make, workers = args.parallel
    args.shared = SharedExecutor(make, workers)
    runners = []
    for sc in scenarios:
        cfg = sc.config(args.profile, args.config)
        runner = ChunkRunner(sc, cfg, make, workers, alive=args.alive, shared=args.shared)
        k = pct_k(sc, cfg) if args.strategy == "pct" else 0
        runner.start(args.strategy, args.seed, args.depth, k, 0, args.schedules)
        runners.append(runner)
    return runners


def _check_one(sc: Any, args: argparse.Namespace, progress: Any, runner: Any = None) -> Any:
    from highmem.sim.explore import explore

    cfg = runner.cfg if runner is not None else sc.config(args.profile, args.config)
    task = None
    if progress is not None:
        task = progress.add_task(sc.name, total=args.schedules, findings=0)

    def tick(done: int, found: int) -> None:
        if progress is not None:
            progress.update(task, completed=done, findings=found)

    if runner is not None:
        runner.progress = lambda n: tick(n, 0)
    elif args.parallel is not None and args.strategy == "dpor":
        from highmem.sim.parallel import DporRunner

        make, workers = args.parallel
        runner = DporRunner(sc, cfg, make, workers)
    ex = explore(sc, cfg, strategy=args.strategy, schedules=args.schedules, seed=args.seed, depth=args.depth,
                 max_preemptions=args.max_preemptions, max_interrupts=args.max_interrupts,
                 do_shrink=not args.no_shrink, progress=tick, runner=runner)
    causes = dict(runner.causes) if runner is not None else {}
    for a, b in ex.unexplored:
        why = causes.get((a, b), "its worker was lost")
        sys.stderr.write(f"highmem: {sc.name}: schedules {a} to {b - 1} (seed {args.seed}) were not explored: "
                         f"their worker was lost on every attempt ({why})\n")
    args.lost.append(causes)
    return ex


def lost_schedules(ex: Any) -> int:
    """How many schedules of ``ex`` a lost worker left unexplored."""
    return sum(b - a for a, b in ex.unexplored)


def _write_out(ex: Any, args: argparse.Namespace) -> dict[str, str]:
    from pathlib import Path

    from highmem.report.ci import schedule_doc
    from highmem.report.exports import out_dir
    from highmem.scenarios.names import file_stem, inside
    from highmem.sim.schedule import save_schedule

    out = out_dir(Path(args.out))
    files: dict[str, str] = {}
    for kind, rep in ex.by_kind.items():
        stem = file_stem(ex.scenario.name, kind)
        path = inside(out, f"{stem}.schedule.json")
        from highmem.report.exports import write_kind_trace

        # The trace first: a schedule file on disk always has its trace beside it.
        write_kind_trace(out, stem, {"finding": kind}, ex.scenario, ex.config, rep.choices,
                         getattr(args, "trace_format", None) or "jsonl")
        save_schedule(path, schedule_doc(ex, kind, list(args.config)))
        files[kind] = str(path)
    return files


def _replay_target(args: argparse.Namespace, doc: dict[str, Any]) -> str:
    """The scenario to replay on: the one the user names, else the recorded built-in.

    A schedule file is data: it may name a built-in, but a file or a Python module it names is
    never loaded (that would let a schedule file run code); the user names those again.
    """
    from highmem.scenarios import builtin_names

    if len(args.scenarios) > 1:
        raise HighmemError(f"--replay replays one scenario, but {len(args.scenarios)} are named: name at most the "
                           "one the schedule was recorded for")
    if args.scenarios:
        return str(args.scenarios[0])
    recorded = doc["scenario"]
    name = recorded.removeprefix("builtin:")
    if name in builtin_names():
        return name
    raise HighmemError(f"schedule {args.replay} was recorded for scenario {recorded!r}, which is not built in; "
                       "--replay never loads a scenario a schedule file names, so name it again: highmem check "
                       f"--replay {args.replay} SCENARIO")


def _old_schedule(path: str, version: int, detail: str) -> str:
    # Not a divergence of this highmem's own schedule: the file predates a scheduling rule.
    from highmem.sim.schedule import SCHEDULE_VERSION

    return (f"schedule file {path!r} has version {version}, recorded before version {SCHEDULE_VERSION} changed how "
            f"contexts spinning on a lock are scheduled, and does not replay under it ({detail}): record it again "
            "with highmem check --out")


def _replay(args: argparse.Namespace) -> int:
    from highmem.scenarios import resolve
    from highmem.sim.explore import run_once
    from highmem.sim.schedule import SCHEDULE_VERSION, load_schedule
    from highmem.sim.strategy import ReplayDivergence, SparseReplayStrategy

    doc = load_schedule(args.replay)
    if args.profile is not None and args.profile != doc.get("profile"):
        raise HighmemError(f"--profile {args.profile} does not apply to --replay: {args.replay} was recorded on "
                           f"{doc.get('profile')}, and a schedule only replays on its own profile")
    sc = resolve(_replay_target(args, doc))
    if sc.digest != doc["digest"]:
        raise HighmemError(f"schedule {args.replay} was recorded for scenario {doc['scenario']} with digest "
                           f"{doc['digest']}, but it now has digest {sc.digest}: the scenario changed, so the "
                           "schedule no longer applies")
    cfg = sc.config(doc.get("profile"), list(doc.get("config", [])) + list(args.config))
    want = doc.get("finding", {}).get("kind")
    try:
        res, _ = run_once(sc, cfg, SparseReplayStrategy(doc["choices"], strict=True))
    except ReplayDivergence:
        if doc["version"] < SCHEDULE_VERSION:
            raise HighmemError(_old_schedule(args.replay, doc["version"], "its choices do not fit the run")) from None
        raise
    kinds = sorted({f.kind for f in res.findings})
    reproduced = want in kinds and res.steps == doc.get("steps", res.steps)
    if not reproduced and doc["version"] < SCHEDULE_VERSION:
        raise HighmemError(_old_schedule(args.replay, doc["version"], (
            f"it recorded {want} in {doc.get('steps')} steps, the run gave {', '.join(kinds) or 'no finding'} "
            f"in {res.steps}")))
    if args.trace or args.html or args.out:
        from highmem.report.exports import write_replay_outputs

        write_replay_outputs(args, doc, sc, cfg)
    if args.json:
        print(json.dumps({"scenario": sc.name, "replay": args.replay, "reproduced": reproduced, "steps": res.steps,
                          "schedules": 1, "findings": [f.to_dict() for f in res.findings]}, indent=2))
    else:
        from highmem.report.terminal import plain

        c = console()
        c.print(plain(f"replayed {args.replay}: {sc.name} on {cfg.profile}, {res.steps} steps, "
                      f"{'reproduced' if reproduced else 'DID NOT reproduce'} {want}"), highlight=False,
                soft_wrap=True)
        for f in res.findings:
            c.print(plain(f"  {f.kind}: {f.message}"), highlight=False, soft_wrap=True)
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
    check_schedules(args.schedules)
    check_seed(args.seed)
    check_depth(args.depth)
    check_strategy(args.strategy)
    check_bound("--max-preemptions", args.max_preemptions)
    check_bound("--max-interrupts", args.max_interrupts)
    if args.executor not in ("process", "dask"):
        raise HighmemError(f"executor {args.executor!r} does not exist: choose process or dask")
    if args.scheduler and args.executor != "dask":
        raise HighmemError("--scheduler applies only to --executor dask")
    if args.executor == "dask" and not args.scheduler:
        raise HighmemError("--executor dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786)")
    if args.jobs == 1:
        jobs = 1  # what check_jobs returns for 1, without importing the process-pool machinery
    else:
        from highmem.sim.parallel import MAX_JOBS, available_cpus

        jobs = check_jobs(args.jobs, args.force_jobs, available_cpus(), MAX_JOBS)
    for opt in ("junit", "sarif"):
        if getattr(args, opt):
            from highmem.report.ci import check_output_target

            check_output_target(getattr(args, opt), f"--{opt}")
    if args.trace or args.html or args.trace_format is not None or args.schedule is not None:
        from highmem.report.html import check_report_targets

        check_report_targets(args)
    scenarios = [resolve(n) for n in names]
    args.parallel = None
    args.alive = None
    args.lost = []
    client = None
    if args.executor == "dask":
        from highmem.sim.parallel import dask_alive, dask_executor

        make, workers, client = dask_executor(args.scheduler)
        args.parallel = (make, workers)
        args.alive = dask_alive(client, args.scheduler)
    elif jobs > 1:
        from highmem.sim.parallel import process_pool

        args.parallel = (process_pool(jobs), jobs)
    args.shared = None
    progress = None
    try:
        runners = (_start_chunks(scenarios, args) if args.parallel is not None and args.strategy in ("random", "pct")
                   else [None] * len(scenarios))
        # rich only when a table or a progress bar is drawn: --json output never needs it.  Imported
        # after the chunks are started, so that the workers do not wait for it.
        con = None if args.json else console()
        progress = progress_bar(con, args) if con is not None else None
        exs = [_check_one(sc, args, progress, runner) for sc, runner in zip(scenarios, runners, strict=True)]
    except BaseException:
        if args.shared is not None:
            args.shared.kill()
        raise
    else:
        if args.shared is not None:
            args.shared.close()
    finally:
        if progress is not None:
            progress.stop()
        if client is not None:
            from highmem.sim.parallel import _close_client

            _close_client(client)
    files: dict[str, dict[str, str]] = {}
    if args.out:
        for ex in exs:
            files[ex.scenario.name] = _write_out(ex, args)
    if args.trace or args.html:
        from highmem.report.html import write_check_reports

        write_check_reports(exs, args)
    from highmem.report.ci import verdict

    # Decided before printing, so a reader that stops early (`| head`) cannot change it.
    args.exit_status = (3 if any(ex.unexplored for ex in exs) else
                        1 if any(verdict(ex, args.expected_ok) for ex in exs) else 0)
    try:
        _print_results(exs, args, con, files)
    except BrokenPipeError:
        from highmem.cli import _silence_stdout

        _silence_stdout()
    return _ci_outputs(exs, args)


def _print_results(exs: list[Any], args: argparse.Namespace, con: Any, files: dict[str, dict[str, str]]) -> None:
    from highmem.report.check import exploration_json, render_explorations

    incomplete = any(ex.unexplored for ex in exs)
    if args.json:
        runs = [exploration_json(ex, files) for ex in exs]
        for r, ex, causes in zip(runs, exs, args.lost, strict=True):
            r["lost_schedules"] = lost_schedules(ex)
            r["incomplete"] = bool(ex.unexplored)
            r["lost"] = [{"schedules": [a, b], "cause": causes.get((a, b), "its worker was lost")}
                         for a, b in ex.unexplored]
        if len(runs) == 1:
            print(json.dumps(runs[0], indent=2))
        else:
            print(json.dumps({"runs": runs, "schedules": sum(r["schedules"] for r in runs),
                              "steps": sum(r["steps"] for r in runs),
                              "lost_schedules": sum(r["lost_schedules"] for r in runs),
                              "incomplete": incomplete}, indent=2))
    else:
        render_explorations(exs, con, files, details=not args.quiet)
    sys.stdout.flush()


def _ci_outputs(exs: list[Any], args: argparse.Namespace) -> int:
    """Write ``--junit``/``--sarif``, say why each failing scenario fails, and return the exit status."""
    from highmem.report.ci import check_sarif, junit_xml, verdict
    from highmem.report.output import write_text

    reasons = [r for r in (verdict(ex, args.expected_ok) for ex in exs) if r is not None]
    # Never a false "clean": work that was not done outranks what was (and was not) found in it.
    status = 3 if any(ex.unexplored for ex in exs) else 1 if reasons else 0
    if args.junit:
        write_text(args.junit, junit_xml(exs, args.expected_ok), "--junit")
    if args.sarif:
        log = check_sarif(exs, args.expected_ok, exit_code=status, arguments=list(getattr(args, "argv", [])))
        write_text(args.sarif, log.dumps(), "--sarif")
    if args.expected_ok:
        for r in reasons:
            sys.stderr.write(f"highmem: {r}\n")
    return status
