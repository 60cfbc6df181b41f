"""Reading and writing trace files (``highmem-trace`` JSON Lines, see ``docs/trace.md``).

A trace file is a header line naming the schema and its version, then one
JSON object per event, each with at least ``step`` and ``kind``.  The
reader refuses what it cannot trust with one sentence (a
:class:`~highmem.errors.HighmemError`): a missing file, something that is
not a trace, a newer schema version, a truncated or corrupt line.

The writer side runs one schedule again with a recorder attached, so a trace
is always the complete record of one run, and adds to the header what a
report needs (CPUs, the schedule, the findings of that run).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from highmem.errors import HighmemError
from highmem.sim.trace import TRACE_SCHEMA, TRACE_VERSION

__all__ = ["read_trace", "record_schedule", "write_trace", "write_first_trace", "check_trace_target"]


#: Bounds on what a trace may claim, so a corrupt one cannot make a report unbounded.
MAX_CPUS = 64
MAX_STEP = 10**9

def read_trace(path: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Read and validate a trace file; returns ``(header, records)``.

    Raises :class:`HighmemError` with one sentence when the file does not
    exist, is not a highmem trace, has a newer schema version than this
    highmem reads, or has a truncated or corrupt line.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise HighmemError(f"trace file {p} does not exist") from None
    except IsADirectoryError:
        raise HighmemError(f"trace file {p} is a directory, not a trace file") from None
    except OSError as e:
        raise HighmemError(f"trace file {p} cannot be read: {e.strerror or e}") from None
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    header: Any = None
    if lines:
        try:
            header = json.loads(lines[0].decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            header = None
    if not isinstance(header, dict) or header.get("schema") != TRACE_SCHEMA:
        raise HighmemError(f"trace file {p} is not a highmem trace: its first line is not a {TRACE_SCHEMA} header")
    cpus = header.get("cpus", 1)
    if not isinstance(cpus, int) or isinstance(cpus, bool) or not 1 <= cpus <= MAX_CPUS:
        raise HighmemError(f"trace file {p} is corrupt at line 1: its header claims {cpus!r} CPUs "
                           f"(a machine has 1 to {MAX_CPUS})")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise HighmemError(f"trace file {p} is truncated or corrupt at line 1")
    if version > TRACE_VERSION:
        raise HighmemError(f"trace file {p} has schema version {version}; this highmem reads version {TRACE_VERSION}")
    records: list[dict[str, Any]] = []
    for n, line in enumerate(lines[1:], start=2):
        try:
            rec = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            rec = None
        if (not isinstance(rec, dict) or not isinstance(rec.get("step"), int) or isinstance(rec.get("step"), bool)
                or not 0 <= rec["step"] <= MAX_STEP or not isinstance(rec.get("kind"), str)):
            raise HighmemError(f"trace file {p} is truncated or corrupt at line {n}")
        if n > 2 and rec["step"] < records[-1]["step"]:
            raise HighmemError(f"trace file {p} is truncated or corrupt at line {n}: its steps go backwards")
        records.append(rec)
    want = header.get("events")
    if isinstance(want, int) and not isinstance(want, bool) and want != len(records):
        # A cut exactly at a line boundary still parses: the header's event count gives it away.
        raise HighmemError(f"trace file {p} is truncated or corrupt at line {min(want, len(records)) + 2}")
    return header, records


def check_trace_target(path: str | Path, what: str = "trace file") -> Path:
    """``path`` as a writable file target (its directory exists and it is not a directory)."""
    p = Path(path)
    if p.is_dir():
        raise HighmemError(f"{what} {p} is a directory: name a file to write")
    if not p.parent.exists():
        raise HighmemError(f"{what} {p} cannot be written: directory {p.parent} does not exist")
    return p


def record_schedule(ex: Any, choices: list[tuple[int, str]] | None, *, depth: int = 2
                    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """Run one schedule of exploration ``ex`` again with a recorder; returns ``(header, records, findings)``.

    ``choices`` is a (shrunk) schedule; ``None`` means the exploration's
    schedule 0 (what ``--trace`` records when nothing was found); ``depth``
    is the PCT depth the exploration used.
    """
    from highmem.sim.explore import _strategy, pct_k, run_once
    from highmem.sim.strategy import PrefixStrategy, SparseReplayStrategy, Strategy

    sc, cfg = ex.scenario, ex.config
    strat: Strategy
    if choices is not None:
        strat = SparseReplayStrategy(choices)
    elif ex.strategy == "exhaustive":
        strat = PrefixStrategy({})
    else:
        k = pct_k(sc, cfg) if ex.strategy == "pct" else 0
        strat = _strategy(ex.strategy, ex.seed, 0, depth, k)
    res, rec = run_once(sc, cfg, strat, trace=True)
    findings = [f.to_dict() for f in res.findings]
    header: dict[str, Any] = {
        "scenario": sc.name, "source": sc.source, "profile": cfg.profile, "cpus": cfg.cpus,
        "strategy": ex.strategy, "seed": ex.seed, "choices": [list(c) for c in res.choices],
        "steps": res.steps, "status": res.status, "events": len(rec.records), "findings": findings,
    }
    if findings:
        header["finding"] = findings[0]["kind"]
    return header, rec.records, findings


def write_trace(path: str | Path, header: dict[str, Any], records: list[dict[str, Any]]) -> None:
    """Write ``records`` as a trace file with ``header`` (schema and version are added)."""
    from highmem.sim.trace import TraceRecorder

    p = check_trace_target(path)
    rec = TraceRecorder(lambda: 0)
    rec.records = records
    try:
        rec.write_jsonl(p, header)
    except OSError as e:
        raise HighmemError(f"trace file {p} cannot be written: {e.strerror or e}") from None


def write_first_trace(explorations: list[Any], path: str | Path, depth: int = 2) -> None:
    """``--trace FILE``: the first (shrunk) failing schedule of the first exploration with findings,
    or schedule 0 of the first exploration when none found anything."""
    if not explorations:
        return
    ex = next((e for e in explorations if e.by_kind), explorations[0])
    rep = next(iter(ex.by_kind.values()), None)
    header, records, _ = record_schedule(ex, None if rep is None else rep.choices, depth=depth)
    write_trace(path, header, records)
