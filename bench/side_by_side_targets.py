"""Issue 14's two targets, before (commit REV) and after (this tree), interleaved in one run.

``python bench/side_by_side_targets.py REV [ROUNDS]`` extracts commit REV (``git archive``, as
side_by_side.py does) and alternates child processes of the two trees, ROUNDS times each
(default 6), so that both see the same machine conditions:

* copy-highpage: CPU per schedule of ``explore(copy-highpage, pct)`` (300 schedules) against the
  yardstick ``minimal_explorer.py`` (gen, 900 schedules), interleaved repeat by repeat in the child,
  minimum of 7 repeats each (bench_user.copy_per_schedule's measurement);
* bounce-io: CPU per simulated step of a PCT exploration (10 schedules, best of 2; the steps of
  PCT's calibration run counted, as bench_user does) against the floor, timed before and after
  the exploration (the lower kept).

Each tree's row gives the ratio of its minima over all rounds (the least disturbed figures) and
the median of the per-round ratios.  Child processes run with their bytecode cached.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import bench_user
from floor import Row, ratio_table
from side_by_side import _tree

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import bench_user as b
from floor import FLOOR_STMT, _timer, floor_globals
from highmem.scenarios import load_builtin
from highmem.sim.explore import explore, pct_k
mod = b.yardstick()
out = {}
best_c = best_y = float("inf")
b._copy_once(30)
for _ in range(7):
    best_c = min(best_c, b._copy_once(300))
    if mod is not None:
        best_y = min(best_y, b._yard_once(mod, 900))
out["copy"] = best_c
out["yard"] = best_y if mod is not None else None
t = _timer(FLOOR_STMT, floor_globals())
fl = min(t.repeat(5, 200_000)) / 200_000
sc = load_builtin("bounce-io")
# Every simulated step is counted, PCT's calibration run's too (as bench_user.bounce_per_step does).
k = pct_k(sc, sc.config())
best = float("inf")
for _ in range(2):
    t0 = time.process_time()
    ex = explore(sc, sc.config(), strategy="pct", schedules=10, seed=0, depth=2)
    best = min(best, (time.process_time() - t0) / (ex.steps + k))
out["bounce"] = best
out["floor"] = min(fl, min(t.repeat(5, 200_000)) / 200_000)
json.dump(out, sys.stdout)
"""


def _child(src: str) -> dict[str, float]:
    env = bench_user._child_env()
    env["PYTHONPATH"] = src
    r = subprocess.run([sys.executable, "-c", _CHILD, str(HERE)], env=env, check=True, capture_output=True,
                       text=True)
    return dict(json.loads(r.stdout))


def run(rev: str, rounds: int = 6) -> list[Row]:
    with tempfile.TemporaryDirectory() as d:
        trees = {"before": _tree(rev, d), "after": str(ROOT / "src")}
        got: dict[str, list[dict[str, float]]] = {k: [] for k in trees}
        for _ in range(rounds):
            for k, src in trees.items():
                got[k].append(_child(src))
    rows = []
    for k, rs in got.items():
        c = min(r["copy"] for r in rs)
        if rs[0]["yard"] is not None:
            y = min(r["yard"] for r in rs)
            per = [r["copy"] / r["yard"] for r in rs]
            rows.append(Row(f"{k}: copy-highpage CPU per schedule (explore, pct)", f"{c * 1e6:.0f} µs",
                            f"{y * 1e6:.1f} µs minimal_explorer gen",
                            f"{c / y:.2f}x (median {statistics.median(per):.2f}x)",
                            f"<= {bench_user.TARGET_COPY_RATIO:g}x", c / y <= bench_user.TARGET_COPY_RATIO))
        bb = min(r["bounce"] for r in rs)
        f = min(r["floor"] for r in rs)
        per = [r["bounce"] / r["floor"] for r in rs]
        rows.append(Row(f"{k}: bounce-io CPU per simulated step (explore, pct)", f"{bb * 1e9:,.0f} ns",
                        f"{f * 1e9:.0f} ns floor", f"{bb / f:.1f}x (median {statistics.median(per):.1f}x)",
                        f"<= {bench_user.TARGET_BOUNCE_FLOORS:g}x", bb / f <= bench_user.TARGET_BOUNCE_FLOORS))
    return rows


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python bench/side_by_side_targets.py REV [ROUNDS]")
    n = int(sys.argv[2]) if len(sys.argv) == 3 else 6
    ratio_table(run(sys.argv[1], n), f"issue 14 targets: before ({sys.argv[1]}) and after (this tree), "
                                     f"{n} interleaved rounds, CPU time")
