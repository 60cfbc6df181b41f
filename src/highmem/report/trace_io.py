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
from highmem.sim.trace import OLDEST_TRACE_VERSION, TRACE_SCHEMA, TRACE_VERSION

__all__ = ["read_trace", "record_schedule", "write_trace", "write_first_trace", "check_trace_target",
           "schedule_strategy", "check_schedule_index"]


#: Bounds on what a trace may claim, so a corrupt one cannot make a report unbounded.
MAX_CPUS = 64
MAX_STEP = 10**9
#: Bytes of a trace file a report reads: a trace of 200,000 steps is about 35 MB, and reading 64 MiB
#: takes under 1 GB of memory.
MAX_TRACE_BYTES = 64 << 20

def read_trace(path: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Read and validate a trace file; returns ``(header, records)``.

    Raises :class:`HighmemError` with one sentence when the file does not
    exist, is not a highmem trace, has a newer schema version than this
    highmem reads, or has a truncated or corrupt line.
    """
    p = Path(path)
    try:
        with open(p, "rb") as f:
            raw = f.read(MAX_TRACE_BYTES + 1)
    except FileNotFoundError:
        raise HighmemError(f"trace file {p} does not exist") from None
    except IsADirectoryError:
        raise HighmemError(f"trace file {p} is a directory, not a trace file") from None
    except OSError as e:
        raise HighmemError(f"trace file {p} cannot be read: {e.strerror or e}") from None
    if len(raw) > MAX_TRACE_BYTES:
        raise HighmemError(f"trace file {p} is larger than the limit of {MAX_TRACE_BYTES} bytes a report reads")
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    header: Any = None
    if lines:
        try:
            header = json.loads(lines[0].decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            header = None
    if not isinstance(header, dict) or header.get("schema") != TRACE_SCHEMA:
        raise HighmemError(f"trace file {p} is not a highmem trace: its first line is not a {TRACE_SCHEMA} header")
    cpus = header.get("cpus", 1)
    if not isinstance(cpus, int) or isinstance(cpus, bool) or not 1 <= cpus <= MAX_CPUS:
        raise HighmemError(f"trace file {p} is corrupt at line 1: its header claims {cpus!r} CPUs "
                           f"(a machine has 1 to {MAX_CPUS})")
    version = header.get("version")
    if version is None:
        raise HighmemError(f"trace file {p} is truncated or corrupt at line 1")
    if not isinstance(version, int) or isinstance(version, bool) or version < OLDEST_TRACE_VERSION:
        raise HighmemError(f"trace file {p} has an unknown schema version {json.dumps(version)[:40]}; this highmem "
                           f"reads versions {OLDEST_TRACE_VERSION} to {TRACE_VERSION}")
    if version > TRACE_VERSION:
        raise HighmemError(f"trace file {p} has schema version {version}; this highmem reads versions "
                           f"{OLDEST_TRACE_VERSION} to {TRACE_VERSION}")
    records: list[dict[str, Any]] = []
    for n, line in enumerate(lines[1:], start=2):
        try:
            rec = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
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


def schedule_strategy(ex: Any, choices: list[tuple[int, str]] | None, *, depth: int = 2,
                      index: int | None = None, bounds: tuple[int, int] = (2, 2)) -> Any:
    """The strategy that runs one schedule of exploration ``ex`` again.

    ``choices``: a (shrunk) schedule to replay; else ``index``: the exploration's schedule of that
    number (0 when None).  An exhaustive (or DPOR) exploration is enumerated again up to ``index``,
    since its schedules depend on the ones before; ``bounds`` are its (max_preemptions, max_interrupts).
    """
    from highmem.sim.explore import _dpor, _exhaustive, _strategy, pct_k
    from highmem.sim.strategy import PrefixStrategy, SparseReplayStrategy

    sc, cfg = ex.scenario, ex.config
    if choices is not None:
        return SparseReplayStrategy(choices)
    i = index or 0
    if ex.strategy not in ("exhaustive", "dpor"):
        k = pct_k(sc, cfg) if ex.strategy == "pct" else 0
        return _strategy(ex.strategy, ex.seed, i, depth, k)
    if i == 0 and ex.strategy == "exhaustive":
        return PrefixStrategy({})
    found: list[list[tuple[int, str]]] = []

    def keep(n: int, res: Any) -> None:
        if n == i:
            found.append(list(res.choices))

    from highmem.sim.explore import Exploration

    enumerate_ = _dpor if ex.strategy == "dpor" else _exhaustive
    enumerate_(sc, cfg, i + 1, bounds[0], bounds[1], keep, Exploration(sc, cfg, ex.strategy, ex.seed), False, {})
    if not found:  # pragma: no cover - check_schedule_index refuses an index beyond the explored
        raise HighmemError(f"schedule {i} of {sc.name} could not be enumerated again")
    return SparseReplayStrategy(found[0])


def check_schedule_index(ex: Any, index: int) -> None:
    """``--schedule K``: K must name a schedule the exploration ran (0 to schedules - 1)."""
    n = ex.schedules
    if index < 0 or index >= n:
        last = f"schedules 0 to {n - 1}" if n > 1 else "only schedule 0"
        raise HighmemError(f"--schedule {index} is beyond the schedules explored: {ex.scenario.name} explored {last}")


def record_schedule(ex: Any, choices: list[tuple[int, str]] | None, *, depth: int = 2, index: int | None = None,
                    bounds: tuple[int, int] = (2, 2)
                    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """Run one schedule of exploration ``ex`` again with a recorder; returns ``(header, records, findings)``.

    ``choices`` is a (shrunk) schedule; ``None`` means the exploration's schedule ``index``
    (schedule 0 by default: what ``--trace`` records when nothing was found); ``depth``
    is the PCT depth the exploration used.
    """
    from highmem.report.trace_record import record_run

    sc, cfg = ex.scenario, ex.config
    strat = schedule_strategy(ex, choices, depth=depth, index=index, bounds=bounds)
    res, records, extra = record_run(sc, cfg, strat)
    findings = [f.to_dict() for f in res.findings]
    header: dict[str, Any] = {
        "scenario": sc.name, "source": sc.source, "profile": cfg.profile, "cpus": cfg.cpus,
        "strategy": ex.strategy, "seed": ex.seed, "choices": [list(c) for c in res.choices],
        "steps": res.steps, "status": res.status, "events": len(records), "findings": findings,
        "explored": ex.schedules, "explored_kinds": list(ex.by_kind), **extra,
    }
    if choices is None:
        header["schedule_index"] = index or 0
    if findings:
        header["finding"] = findings[0]["kind"]
    return header, records, findings


def write_trace(path: str | Path, header: dict[str, Any], records: list[dict[str, Any]]) -> None:
    """Write ``records`` as a trace file with ``header`` (schema and version are added)."""
    from highmem.report.output import write_text
    from highmem.sim.trace import TRACE_SCHEMA, TRACE_VERSION

    p = check_trace_target(path)
    lines = [json.dumps({**header, "schema": TRACE_SCHEMA, "version": TRACE_VERSION}, sort_keys=True)]
    lines.extend(json.dumps(r, sort_keys=True) for r in records)
    write_text(p, "\n".join(lines) + "\n", "trace file")


def write_first_trace(explorations: list[Any], path: str | Path, depth: int = 2, fmt: str = "jsonl",
                      index: int | None = None, bounds: tuple[int, int] = (2, 2)) -> None:
    """``--trace FILE``: the first (shrunk) failing schedule of the first exploration with findings,
    or schedule 0 of the first exploration when none found anything; with ``index`` (``--schedule
    K``), schedule K of the first exploration.  ``fmt`` as ``--trace-format``."""
    from highmem.report.exports import write_trace_as

    if not explorations:
        return
    if index is not None:
        ex, choices = explorations[0], None
    else:
        ex = next((e for e in explorations if e.by_kind), explorations[0])
        rep = next(iter(ex.by_kind.values()), None)
        choices = None if rep is None else rep.choices
    header, records, findings = record_schedule(ex, choices, depth=depth, index=index, bounds=bounds)
    write_trace_as(path, fmt, header, records, findings)
