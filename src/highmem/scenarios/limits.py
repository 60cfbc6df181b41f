"""The bounds that keep every accepted scenario finite and in memory, and the counts they judge.

The loader (:mod:`highmem.scenarios.loader`) refuses a scenario past any of them with one
sentence; the counts are static (computed from the operations, repeat counts multiplied out),
so a scenario is judged before it runs.
"""

from __future__ import annotations

from highmem.errors import HighmemError
from highmem.scenarios.model import ContextSpec
from highmem.scenarios.ops import to_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol
else:
    from highmem._typing import Protocol

__all__ = ["MAX_STEPS", "MAX_ACCESS", "MAX_MOVED", "MAX_NESTING", "MAX_SCENARIO_BYTES", "static_steps", "moved",
           "raises", "check_moved"]

#: Upper bounds that keep every accepted scenario finite and in memory.
MAX_STEPS = 10_000_000
#: Bytes one load, store or copy moves.
MAX_ACCESS = 16 << 20
#: Bytes every load, store and copy of a scenario may move in one schedule, counting repeat counts and
#: each interrupt's and softirq's arrivals (its ``max`` plus the raise operations that name it).
MAX_MOVED = 64 << 20
#: Levels of ``repeat`` inside ``repeat``.
MAX_NESTING = 16
#: Bytes of a scenario file.
MAX_SCENARIO_BYTES = 8 << 20


class Fails(Protocol):
    """Where a refusal is located: the loader's per-file context."""

    def fail(self, line: int | None, rule: str) -> HighmemError: ...


def static_steps(ops: list[Any]) -> int:
    """A lower bound of the steps one run of ``ops`` takes (every op but repeat is >= 1 step)."""
    total = 0
    for op in ops:
        if op.get("op") == "work":
            total += op.get("steps", 1)
        elif op.get("op") == "repeat":
            total += op["count"] * static_steps(op["ops"])
        else:
            total += 1
    return total


def moved(ops: list[Any]) -> int:
    """Bytes one run of ``ops`` loads, stores and copies (repeats counted); ``ops`` are checked."""
    total = 0
    for op in ops:
        name = op["op"]
        if name == "store":
            total += len(to_bytes(op["data"], "store data")) * op.get("repeat", 1)
        elif name == "load":
            total += op["size"] if "size" in op else len(to_bytes(op["expect"], "load expect"))
        elif name == "copy":
            total += op.get("size", 4096)
        elif name == "repeat":
            total += op["count"] * moved(op["ops"])
    return total


def raises(ops: list[Any], into: dict[tuple[str, str], int], times: int = 1) -> None:
    """Count, into ``into``, the raise_irq/raise_softirq operations of one run of ``ops``."""
    for op in ops:
        name = op["op"]
        if name == "raise_irq":
            into[("irq", op["irq"])] = into.get(("irq", op["irq"]), 0) + times
        elif name == "raise_softirq":
            into[("softirq", op["softirq"])] = into.get(("softirq", op["softirq"]), 0) + times
        elif name == "repeat":
            raises(op["ops"], into, times * op["count"])


def check_moved(cx: Fails, contexts: list[ContextSpec]) -> None:
    """Refuse a scenario whose schedules would move more than :data:`MAX_MOVED` bytes."""
    raised: dict[tuple[str, str], int] = {}
    for c in contexts:
        raises(c.ops or [], raised)
    total = 0
    for c in contexts:
        runs = 1 if c.kind == "task" else c.max + raised.get((c.kind, c.name), 0)
        n = moved(c.ops or []) * runs
        total += n
        if total > MAX_MOVED:
            raise cx.fail(c.line, f"the scenario moves at least {total} bytes per schedule (loads, stores and "
                          f"copies, repeats counted; {c.kind} {c.name} alone {n} in {runs} run(s)), more than "
                          f"the limit of {MAX_MOVED}")
