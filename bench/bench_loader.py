"""Loader cost: checking a TOML scenario is linear in its size.

``python bench/bench_loader.py`` builds scenarios of 1,000 and 10,000 operations (one task, one
operation per line, kmap/store/load/kunmap cycles, about 60 bytes an operation), and prints, best of
REPEAT, the time ``load_toml_text`` takes next to ``tomllib.loads`` of the same text (the floor: the
parse alone), and the 10,000/1,000 ratio of each.  Linear loading keeps that ratio near 10; the
quadratic loader of round 1 took 66 s for 8,000 operations.  Exit status 1 when the loader's ratio
exceeds TARGET_RATIO.
"""

from __future__ import annotations

import sys
import time
import tomllib

from highmem.scenarios import load_toml_text

__all__ = ["scenario_text", "run", "TARGET_RATIO"]

SIZES = (1_000, 10_000)
REPEAT = 3
#: 10x the operations may cost at most this many times as much (10 is linear).
TARGET_RATIO = 15.0

_CYCLE = ('  { op = "kmap_atomic", page = "A", type = "KM_USER0" },',
          '  { op = "store", addr = "A", data = "abc", offset = 8 },',
          '  { op = "load", addr = "A", offset = 8, expect = "abc" },',
          '  { op = "kunmap_atomic", addr = "A", type = "KM_USER0" },')


def scenario_text(ops: int) -> str:
    """A valid scenario of ``ops`` operations, one a line."""
    body = [_CYCLE[i % 4] for i in range(ops - ops % 4)]
    return ('[scenario]\nname = "bench-loader"\nmax_steps = 10000000\n[pages]\nA = "highmem"\n'
            '[[task]]\nname = "t"\nops = [\n' + "\n".join(body) + "\n]\n")


def _best(fn: object, text: str) -> float:
    best = float("inf")
    for _ in range(REPEAT):
        t = time.perf_counter()
        fn(text)  # type: ignore[operator]
        best = min(best, time.perf_counter() - t)
    return best


def run() -> list[tuple[int, int, float, float]]:
    """(operations, bytes, loader seconds, tomllib seconds) for each size."""
    rows = []
    for n in SIZES:
        text = scenario_text(n)
        rows.append((n, len(text), _best(lambda s: load_toml_text(s, "<bench>"), text), _best(tomllib.loads, text)))
    return rows


def main() -> int:
    rows = run()
    print(f"{'operations':>10} {'bytes':>9} {'load_toml_text':>15} {'tomllib.loads':>14} {'loader/parse':>13}")
    for n, size, load, parse in rows:
        print(f"{n:>10,} {size:>9,} {load * 1e3:>12.1f} ms {parse * 1e3:>11.1f} ms {load / parse:>12.1f}x")
    (n0, _, l0, p0), (n1, _, l1, p1) = rows
    ratio = l1 / l0
    print(f"{n1:,}/{n0:,} operations: loader {ratio:.1f}x, tomllib {p1 / p0:.1f}x (linear: {n1 / n0:.0f}x; "
          f"target <= {TARGET_RATIO:g}x)")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
