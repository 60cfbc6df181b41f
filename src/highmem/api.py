"""The library's conveniences over the layers below: replaying a finding and recording its trace.

What the command line does with a schedule (``check --replay``, ``check --trace``), for a Python
caller: take an :class:`~highmem.sim.explore.Exploration` (or a scenario, a configuration and a
schedule) and get the run back, or its trace as records ready for
:func:`highmem.report.html.render_html` and :mod:`highmem.report.trace_io`.
"""

from __future__ import annotations

from typing import Any

from highmem.errors import HighmemError
from highmem.sim.explore import Exploration, run_once

__all__ = ["replay", "record_trace"]


def _choices(ex: Exploration, kind: str | None) -> list[tuple[int, str]]:
    if not ex.by_kind:
        raise HighmemError(f"scenario {ex.scenario.name} has no finding to replay: its exploration found nothing")
    if kind is None:
        return next(iter(ex.by_kind.values())).choices
    if kind not in ex.by_kind:
        raise HighmemError(f"scenario {ex.scenario.name} has no {kind} finding: it found "
                           f"{', '.join(ex.by_kind)}")
    return ex.by_kind[kind].choices


def replay(ex: Exploration, kind: str | None = None) -> Any:
    """Run the shrunk schedule of ``ex``'s ``kind`` finding (default: its first) again; returns the
    :class:`~highmem.sim.engine.RunResult`, whose ``findings`` include that kind again."""
    from highmem.sim.strategy import SparseReplayStrategy

    res, _ = run_once(ex.scenario, ex.config, SparseReplayStrategy(_choices(ex, kind), strict=True))
    return res


def record_trace(ex: Exploration, kind: str | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``(header, records)`` of the trace of ``ex``'s ``kind`` finding (default: its first; a clean
    exploration gives its schedule 0), with the state records the HTML report draws."""
    from highmem.report.trace_io import record_schedule

    choices = _choices(ex, kind) if ex.by_kind else None
    header, records, findings = record_schedule(ex, choices)
    header = dict(header)
    header["findings"] = findings
    return header, records
