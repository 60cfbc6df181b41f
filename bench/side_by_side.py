"""Before and after, side by side in one run: this highmem against an earlier commit.

``python bench/side_by_side.py REV`` extracts commit REV of this repository
(``git archive``) into a temporary directory and measures both trees in the
same time window, each in its own child processes (``PYTHONPATH`` selects the
tree):

* per built-in: CPU per schedule of a PCT exploration (100 schedules, 3 for
  bounce-io; no shrinking), as a ratio to the yardstick ``minimal_explorer.py``
  measured in the same child process (see bench_user);
* ``highmem check copy-highpage --schedules 3000``: CPU of the whole process;
* ``highmem check copy-highpage --schedules 1 --json`` and ``highmem --version``:
  CPU against ``python -c pass``.

Child processes run with their bytecode cached (see bench_user._child_env).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import bench_user
from floor import Row, ratio_table

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: Run in a child: per-built-in CPU per schedule and the yardstick, as JSON on stdout.
_CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import bench_user as b
from highmem.errors import HighmemError
from highmem.scenarios import builtin_names, load_builtin
from highmem.sim.explore import explore
mod = b.yardstick()
out = {}
for name in builtin_names():
    sc = load_builtin(name)
    cfg = sc.config()
    n = 3 if name == "bounce-io" else 100
    best = ybest = float("inf")
    steps = 0
    for _ in range(3):
        t = time.process_time()
        try:
            ex = explore(sc, cfg, strategy="pct", schedules=n, seed=0, do_shrink=False)
        except HighmemError:
            break
        best = min(best, (time.process_time() - t) / n)
        steps = ex.steps // ex.schedules
        if mod is not None:
            ybest = min(ybest, b._yard_once(mod, 900))
    if best < float("inf"):
        out[name] = [best, ybest if mod is not None else None, steps]
json.dump(out, sys.stdout)
"""


def _tree(rev: str, into: str) -> str:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", into], input=archive, check=True)
    return os.path.join(into, "src")


def _rates(src: str) -> dict[str, list[float]]:
    env = bench_user._child_env()
    env["PYTHONPATH"] = src
    r = subprocess.run([sys.executable, "-c", _CHILD, str(HERE)], env=env, check=True, capture_output=True,
                       text=True)
    return dict(json.loads(r.stdout))


def _cli(src: str) -> dict[str, float]:
    os.environ["PYTHONPATH"] = src
    try:
        return {
            "check3000": bench_user.child_cpu(bench_user._highmem() + ["check", "copy-highpage", "--schedules",
                                                                         "3000"], 2),
            "one_json": bench_user.child_cpu(bench_user._highmem() + ["check", "copy-highpage", "--schedules", "1",
                                                                        "--json"], 8),
            "version": bench_user.child_cpu(bench_user._highmem() + ["--version"], 8),
        }
    finally:
        del os.environ["PYTHONPATH"]


def run(rev: str) -> list[Row]:
    with tempfile.TemporaryDirectory() as d:
        old = _tree(rev, d)
        new = str(ROOT / "src")
        before, after = _rates(old), _rates(new)
        base = bench_user.child_cpu([sys.executable, "-c", "pass"], 8)
        cb, ca = _cli(old), _cli(new)
    rows = []
    for name in sorted(after):
        if name not in before:
            continue
        (b, yb, steps), (a, ya, _) = before[name], after[name]
        ratio = f"{b / yb:.1f}x -> {a / ya:.1f}x yardstick" if yb and ya else ""
        rows.append(Row(f"{name} ({steps:,} steps): CPU per schedule", f"{b * 1e6:,.0f} -> {a * 1e6:,.0f} µs", ratio,
                        f"{b / a:.2f}x faster", "(info)"))
    rows.append(Row("`highmem check copy-highpage --schedules 3000`: CPU",
                    f"{cb['check3000']:.2f} -> {ca['check3000']:.2f} s", "",
                    f"{cb['check3000'] / ca['check3000']:.2f}x faster", ">= 4x",
                    ca["check3000"] * 4 <= cb["check3000"]))
    rows.append(Row("`check copy-highpage --schedules 1 --json`: CPU", f"{cb['one_json'] * 1e3:.0f} -> "
                    f"{ca['one_json'] * 1e3:.0f} ms", f"{base * 1e3:.0f} ms python -c pass",
                    f"{cb['one_json'] / base:.1f}x -> {ca['one_json'] / base:.1f}x", "<= 5x",
                    ca["one_json"] <= 5 * base))
    rows.append(Row("`highmem --version`: CPU", f"{cb['version'] * 1e3:.0f} -> {ca['version'] * 1e3:.0f} ms",
                    f"{base * 1e3:.0f} ms python -c pass",
                    f"{cb['version'] / base:.1f}x -> {ca['version'] / base:.1f}x", "(info)"))
    return rows


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python bench/side_by_side.py REV  (a commit to compare this tree with)")
    ratio_table(run(sys.argv[1]), f"before ({sys.argv[1]}) -> after (this tree), CPU time, one run")
