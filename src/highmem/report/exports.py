"""What ``check``, ``compare`` and ``report`` write besides their tables: traces in a chosen format,
HTML reports, and the outputs of ``check --replay``.

``--trace-format`` names the format of every trace file written: ``jsonl`` (the highmem-trace of
``docs/trace.md``, the default), ``perfetto`` (a Perfetto protobuf trace) or ``ftrace``
(``trace-cmd report`` text).  ``--out DIR`` always writes the JSON Lines trace (``highmem report``
reads it) and, for another format, the same run in that format beside it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from highmem.errors import HighmemError

__all__ = ["TRACE_FORMATS", "check_trace_format", "trace_suffix", "write_trace_as", "write_kind_trace",
           "write_replay_outputs", "html_report_path"]

TRACE_FORMATS = ("jsonl", "perfetto", "ftrace")
_SUFFIX = {"jsonl": ".trace.jsonl", "perfetto": ".pftrace", "ftrace": ".ftrace.txt"}


def check_trace_format(fmt: str | None) -> str:
    """``--trace-format``: one of :data:`TRACE_FORMATS` (``jsonl`` when None)."""
    if fmt is None:
        return "jsonl"
    if fmt not in TRACE_FORMATS:
        raise HighmemError(f"--trace-format {fmt!r} does not exist: choose jsonl, perfetto or ftrace")
    if fmt == "perfetto":
        from highmem.report.perfetto import _protos

        _protos()   # refuse now, before exploring, when the perfetto package is missing
    return fmt


def trace_suffix(fmt: str) -> str:
    """The file-name ending ``--out`` gives a trace of format ``fmt``."""
    return _SUFFIX[fmt]


def write_trace_as(path: str | Path, fmt: str, header: dict[str, Any], records: list[dict[str, Any]],
                   findings: list[dict[str, Any]] | None = None) -> None:
    """Write one recorded run to ``path`` in format ``fmt``."""
    if fmt == "perfetto":
        from highmem.report.perfetto import write_perfetto

        write_perfetto(path, header, records, findings)
    elif fmt == "ftrace":
        from highmem.report.ftrace import write_ftrace

        write_ftrace(path, header, records)
    else:
        from highmem.report.trace_io import write_trace

        write_trace(path, header, records)


def write_kind_trace(out: Path, stem: str, header_extra: dict[str, Any], sc: Any, cfg: Any,
                     choices: list[tuple[int, str]], fmt: str) -> None:
    """``--out``: the trace of one failing schedule, ``STEM.trace.jsonl`` (and ``STEM`` + the format's ending)."""
    from highmem.report.trace_record import record_run
    from highmem.sim.strategy import SparseReplayStrategy

    res, records, extra = record_run(sc, cfg, SparseReplayStrategy(choices))
    findings = [f.to_dict() for f in res.findings]
    header = {"scenario": sc.name, "profile": cfg.profile, "steps": res.steps, "cpus": cfg.cpus,
              "events": len(records), "choices": [list(c) for c in res.choices], "findings": findings,
              **header_extra, **extra}
    from highmem.scenarios.names import inside

    write_trace_as(inside(out, f"{stem}.trace.jsonl"), "jsonl", header, records)
    if fmt != "jsonl":
        write_trace_as(inside(out, f"{stem}{trace_suffix(fmt)}"), fmt, header, records, findings)


def html_report_path(d: Path, name: str, taken: set[str]) -> Path:
    """``DIR/NAME.html`` for scenario ``name``, numbered when two scenarios share a file name."""
    from highmem.report.html import report_filename

    if not d.exists():
        try:
            d.mkdir(parents=True)
        except OSError as e:
            raise HighmemError(f"--html {d} cannot be created: {e.strerror or e}") from None
    base = report_filename(name)
    path, n = d / base, 2
    while str(path) in taken:
        path = d / base.replace(".html", f"-{n}.html")
        n += 1
    taken.add(str(path))
    return path


def write_replay_outputs(args: argparse.Namespace, doc: dict[str, Any], sc: Any, cfg: Any) -> None:
    """``check --replay FILE`` with ``--trace``, ``--html`` or ``--out``: the replayed run, recorded."""
    from highmem.report.html import render_html
    from highmem.report.output import write_text
    from highmem.report.trace_record import record_run
    from highmem.sim.strategy import SparseReplayStrategy

    fmt = check_trace_format(getattr(args, "trace_format", None))
    res, records, extra = record_run(sc, cfg, SparseReplayStrategy(doc["choices"], strict=True))
    findings = [f.to_dict() for f in res.findings]
    header: dict[str, Any] = {
        "scenario": sc.name, "source": sc.source, "profile": cfg.profile, "cpus": cfg.cpus,
        "choices": [list(c) for c in res.choices], "steps": res.steps, "status": res.status,
        "events": len(records), "findings": findings, "replay": str(args.replay), **extra}
    if findings:
        header["finding"] = findings[0]["kind"]
    if args.trace:
        write_trace_as(args.trace, fmt, header, records, findings)
    if args.html:
        path = html_report_path(Path(args.html), sc.name, set())
        write_text(path, render_html(header, records, findings=findings), "report")
    if args.out:
        from highmem.scenarios.names import file_stem, inside
        from highmem.sim.schedule import save_schedule

        out = out_dir(Path(args.out))
        for kind in dict.fromkeys(f["kind"] for f in findings):
            stem = file_stem(sc.name, kind)
            f0 = next(f for f in findings if f["kind"] == kind)
            # Traces first: a schedule file on disk always has its trace beside it.
            write_trace_as(inside(out, f"{stem}.trace.jsonl"), "jsonl", dict(header, finding=kind), records)
            if fmt != "jsonl":
                write_trace_as(inside(out, f"{stem}{trace_suffix(fmt)}"), fmt, dict(header, finding=kind), records,
                               findings)
            save_schedule(inside(out, f"{stem}.schedule.json"), {
                **{k: v for k, v in doc.items() if k not in ("format", "version", "finding", "choices")},
                "finding": {"kind": kind, "message": f0["message"]}, "steps": res.steps,
                "choices": [list(c) for c in doc["choices"]]})


def out_dir(out: Path) -> Path:
    """The ``--out`` directory, created if needed (one sentence when it cannot be)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise HighmemError(f"--out {out} cannot be used as a directory: {e.strerror or e}") from None
    if not out.is_dir():
        raise HighmemError(f"--out {out} cannot be used as a directory: it is not one")
    return out

