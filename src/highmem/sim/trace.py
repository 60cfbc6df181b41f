"""The trace recorder: every event of a run, tagged with its step, as plain dicts.

An observer; it keeps the records in memory.  The engine writes no files:
:func:`highmem.report.trace_io.write_trace` writes them as JSON Lines (one
object per line, atomically) after a header line that names the schema and
its version, so a reader can refuse a trace it does not understand.
"""

from __future__ import annotations

from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NamedTuple
else:
    from highmem._typing import NamedTuple

__all__ = ["TraceRecorder", "TRACE_SCHEMA", "TRACE_VERSION", "OLDEST_TRACE_VERSION"]

TRACE_SCHEMA = "highmem-trace"
#: 2 added the state records (cpu_state, slot_state, pkmap_state) that highmem.report.trace_record samples.
TRACE_VERSION = 2
#: The oldest version a reader still reads (version 1: events only).
OLDEST_TRACE_VERSION = 1


class TraceRecorder:
    """Records ``{"step": n, "kind": ..., **fields}`` for every event."""

    def __init__(self, step_of: Callable[[], int]) -> None:
        self.step_of = step_of
        self.records: list[dict[str, Any]] = []

    def __call__(self, ev: NamedTuple) -> None:
        d: dict[str, Any] = {"step": self.step_of(), "kind": ev.kind}  # type: ignore[attr-defined]
        d.update(ev._asdict())
        self.records.append(d)
