"""The bare-Python floor every highmem benchmark is divided by, and the timing helpers.

The floor is the least a Python model of ``kmap_atomic`` can do: one function
call that stores a PTE into a page-table frame (``struct.pack_into`` into a
4 KiB ``bytearray``) and drops one TLB entry (``dict.pop``).  A kmap/kunmap
pair costing a small multiple of it is as cheap as a model can reasonably be.

Timing: :func:`measure` and :func:`compare` run :mod:`timeit` (GC off during
the loop) and keep the *minimum* of several repeats, the run least disturbed
by the rest of the system.  :func:`compare` interleaves its statements repeat
by repeat, so a subject and its floor see the same machine conditions.

Run alone (``python bench/floor.py``) it prints the floor's cost.
"""

from __future__ import annotations

import struct
import timeit
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = [
    "PTE",
    "REPEAT",
    "Row",
    "compare",
    "floor",
    "floor_globals",
    "FLOOR_STMT",
    "fmt_ns",
    "measure",
    "ratio_table",
]

#: An i386 (non-PAE) page-table entry: 32 bits, little-endian.
PTE = struct.Struct("<I")

#: Repeats per measurement; the minimum is reported.
REPEAT = 7

Stmt = str | Callable[[], Any]


def floor(frame: bytearray, off: int, val: int, tlb: dict[int, Any], vpn: int) -> None:
    """One PTE store and one TLB update: the work of a non-debug kmap_atomic, nothing else."""
    PTE.pack_into(frame, off, val)
    tlb.pop(vpn, None)


#: The floor as a timeit statement; evaluate it with :func:`floor_globals`.
FLOOR_STMT = "floor(frame, off, val, tlb, vpn)"


def floor_globals() -> dict[str, Any]:
    """Deterministic arguments for :data:`FLOOR_STMT`: KM_USER0's PTE of CPU 1 in a 2 GiB machine."""
    vpn = 0xFFFEA  # the virtual page of fixmap slot 20 (KM_USER0, CPU 1)
    return {
        "floor": floor,
        "frame": bytearray(4096),
        "off": 0xFA8,
        "val": (0x7FFFF << 12) | 0x163,  # a high frame | __PAGE_KERNEL | _PAGE_GLOBAL
        "tlb": {vpn: (0x12345, 0x163)},
        "vpn": vpn,
    }


def _timer(stmt: Stmt, globals: Mapping[str, Any] | None) -> timeit.Timer:
    return timeit.Timer(stmt, globals=dict(globals) if globals is not None else None)


def measure(fn: Stmt, number: int, *, repeat: int = REPEAT, globals: Mapping[str, Any] | None = None) -> float:
    """Nanoseconds per execution of ``fn`` (a zero-argument callable or a timeit statement string).

    ``number`` executions per repeat, ``repeat`` repeats, the minimum kept.
    """
    best = min(_timer(fn, globals).repeat(repeat, number))
    return best / number * 1e9


def compare(stmts: Mapping[str, Stmt], number: int | Mapping[str, int], *, repeat: int = REPEAT,
            globals: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Like :func:`measure` for several statements at once, interleaved repeat by repeat.

    ``number`` is one count for all, or a count per statement name.  Returns
    nanoseconds per execution by name.
    """
    timers = {name: _timer(s, globals) for name, s in stmts.items()}
    counts = {name: number[name] if isinstance(number, Mapping) else number for name in stmts}
    best = dict.fromkeys(stmts, float("inf"))
    for name, t in timers.items():  # warm-up: first calls fill caches, TLB entries, lazily built state
        t.timeit(max(1, counts[name] // 20))
    for _ in range(repeat):
        for name, t in timers.items():
            best[name] = min(best[name], t.timeit(counts[name]))
    return {name: best[name] / counts[name] * 1e9 for name in stmts}


def fmt_ns(ns: float) -> str:
    """``ns`` with a unit that keeps three significant figures."""
    if ns < 1e3:
        return f"{ns:.0f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.2f} µs"
    if ns < 1e9:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e9:.2f} s"


class Row(dict):
    """One result: benchmark, value, baseline, ratio, target, ok (True, False or None = informational)."""

    def __init__(self, benchmark: str, value: str, baseline: str = "", ratio: str = "", target: str = "",
                 ok: bool | None = None) -> None:
        super().__init__(benchmark=benchmark, value=value, baseline=baseline, ratio=ratio, target=target, ok=ok)


_COLUMNS = (("benchmark", "benchmark"), ("value", "measured"), ("baseline", "floor/baseline"),
            ("ratio", "ratio"), ("target", "target"), ("ok", "result"))


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("PASS" if ok else "FAIL")


def ratio_table(rows: Sequence[Mapping[str, Any]], title: str | None = None) -> str:
    """The rows as a fixed-width text table (also printed)."""
    cells = [[h for _, h in _COLUMNS]]
    for r in rows:
        cells.append([_verdict(r["ok"]) if k == "ok" else str(r[k]) for k, _ in _COLUMNS])
    widths = [max(len(c[i]) for c in cells) for i in range(len(_COLUMNS))]
    lines = []
    if title:
        lines.append(title)
    for n, c in enumerate(cells):
        lines.append("  ".join(x.ljust(w) for x, w in zip(c, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    out = "\n".join(lines)
    print(out)
    return out


def run() -> list[Row]:
    """The floor on its own."""
    ns = measure(FLOOR_STMT, 500_000, globals=floor_globals())
    return [Row("floor: PTE store + TLB pop (1 call)", fmt_ns(ns))]


if __name__ == "__main__":
    ratio_table(run())
