"""kmap_atomic + kunmap_atomic pair versus the bare-Python floor.

Machine: ``highmem.boot(cpus=2, memory="2G")``; one page from
``alloc_highpage()``; type ``KM_USER0``; process context on CPU 1 (the
``with machine.process(cpu=1)`` wraps the whole timing loop).  The measured
statement is what user code writes::

    v = m.kmap_atomic(page, KM_USER0); m.kunmap_atomic(v, KM_USER0)

Three variants, each timed interleaved with the floor in the same run:
non-debug with no observer (target: pair <= 5x floor), CONFIG_DEBUG_HIGHMEM
(kunmap really clears the PTE and flushes), and one no-op observer
subscribed (every PTE write and flush becomes an event).
"""

from __future__ import annotations

from typing import Any

import highmem
from floor import FLOOR_STMT, Row, compare, floor_globals, fmt_ns, ratio_table

__all__ = ["run", "TARGET_RATIO"]

#: Target: a non-debug, unobserved pair costs at most this many floors.
TARGET_RATIO = 5.0

PAIR_STMT = "v = m.kmap_atomic(page, KM_USER0); m.kunmap_atomic(v, KM_USER0)"
NUMBER = 200_000

VARIANTS: tuple[tuple[str, dict[str, Any], bool], ...] = (
    ("non-debug, no observer", {}, False),
    ("DEBUG_HIGHMEM=y", {"config": {"DEBUG_HIGHMEM": True}}, False),
    ("non-debug, 1 observer", {}, True),
)


def _setup(kwargs: dict[str, Any], observe: bool) -> tuple[highmem.Machine, dict[str, Any]]:
    m = highmem.boot(cpus=2, memory="2G", **kwargs)
    page = m.alloc_highpage()
    if observe:
        m.subscribe(lambda e: None)
    g = floor_globals()
    g.update(m=m, page=page, KM_USER0=m.km_type.KM_USER0)
    return m, g


def _check(m: highmem.Machine, page: highmem.Page) -> None:
    """The pair really maps ``page`` at CPU 1's KM_USER0 slot (so the timing measured real work)."""
    KM_USER0 = m.km_type.KM_USER0
    with m.process(cpu=1):
        v = m.kmap_atomic(page, KM_USER0)
        assert v == m.kmap_slot(1, KM_USER0)[1], (hex(v), m.kmap_slot(1, KM_USER0))
        m.store(v + 100, b"kmap bench")
        assert m.load(v + 100, 10) == b"kmap bench"
        m.kunmap_atomic(v, KM_USER0)
    assert m.page_bytes(page, 100, 10) == b"kmap bench"


def measure_variant(kwargs: dict[str, Any], observe: bool, number: int = NUMBER) -> tuple[float, float]:
    """(pair ns, floor ns), measured interleaved while CPU 1 runs a task."""
    m, g = _setup(kwargs, observe)
    with m.process(cpu=1):
        res = compare({"pair": PAIR_STMT, "floor": FLOOR_STMT}, number, globals=g)
    _check(m, g["page"])
    return res["pair"], res["floor"]


def run(number: int = NUMBER) -> list[Row]:
    rows = []
    for label, kwargs, observe in VARIANTS:
        pair, fl = measure_variant(kwargs, observe, number)
        ratio = pair / fl
        gated = not kwargs and not observe
        rows.append(Row(
            f"kmap_atomic+kunmap_atomic pair ({label})",
            fmt_ns(pair), fmt_ns(fl) + " floor", f"{ratio:.2f}x",
            f"<= {TARGET_RATIO:g}x" if gated else "(info)",
            ratio <= TARGET_RATIO if gated else None,
        ))
    return rows


if __name__ == "__main__":
    ratio_table(run(), "kmap_atomic pair vs floor (process context, CPU 1, KM_USER0, high page)")
