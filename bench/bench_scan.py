"""`highmem scan` on a whole kernel tree: wall time with --jobs 1 and --jobs 2, peak RSS.

``python bench/bench_scan.py [TREE]`` (default ``$HIGHMEM_SCAN_TREE``).  TREE is an extracted kernel
tree, e.g. ``git --git-dir=... archive HEAD | tar -x -C /tmp/linux``.  The scan runs in a fresh
subprocess each time (``highmem scan --json``), so start-up, file discovery and the worker pool are
inside the timing, as for a user.  Side by side in one run: the whole tree with ``--jobs 2``, and
one subdirectory (``fs``) with ``--jobs 1`` and ``--jobs 2`` (their ratio is the parallel speedup).

Targets (issue 12): a whole 6.x tree (about 35,000 .c files) in <= 120 s with --jobs 2, peak RSS of
each process <= 1 GB.  Exit status 1 when a target is missed, 2 without a tree.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

__all__ = ["run", "TARGET_SECONDS", "TARGET_RSS_MB"]

TARGET_SECONDS = 120.0
TARGET_RSS_MB = 1024.0


def _scan(paths: list[str], jobs: int) -> tuple[float, float, dict[str, int], int]:
    """Seconds, peak RSS (MB) of the largest process, stats, warnings of one scan subprocess."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "highmem", "scan", "--json", "--jobs", str(jobs), *paths],
                         capture_output=True, check=False)
    secs = time.perf_counter() - t0
    if out.returncode not in (0, 1):
        raise SystemExit(f"bench_scan: highmem scan failed: {out.stderr.decode()[-300:]}")
    rss = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    doc = json.loads(out.stdout)
    warnings = sum(1 for f in doc["findings"] if f["severity"] == "warning")
    return secs, rss, doc["stats"], warnings


def run(tree: str) -> int:
    """Print the table; 1 if a target is missed."""
    fs = os.path.join(tree, "fs")
    rows = []
    if os.path.isdir(fs):
        for jobs in (1, 2):
            rows.append((f"fs/ --jobs {jobs}", *_scan([fs], jobs)))
    whole = _scan([tree], 2)
    rows.append(("whole tree --jobs 2", *whole))
    print(f"{'scan':<22} {'seconds':>8} {'peak RSS MB':>12} {'files':>7} {'parsed':>7} {'functions':>9} "
          f"{'failures':>8} {'warnings':>8}")
    for name, secs, rss, st, warn in rows:
        print(f"{name:<22} {secs:8.1f} {rss:12.0f} {st['files']:7d} {st['files_parsed']:7d} {st['functions']:9d} "
              f"{st['parse_failures']:8d} {warn:8d}")
    if len(rows) == 3:
        print(f"speedup --jobs 2 / --jobs 1 on fs/: {rows[0][1] / rows[1][1]:.2f}x")
    ok = whole[0] <= TARGET_SECONDS and whole[1] <= TARGET_RSS_MB
    print(f"target: whole tree <= {TARGET_SECONDS:.0f} s and RSS <= {TARGET_RSS_MB:.0f} MB: "
          f"{'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    tree = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("HIGHMEM_SCAN_TREE", "")
    if not tree or not os.path.isdir(tree):
        sys.stderr.write("bench_scan: give an extracted kernel tree (argument or HIGHMEM_SCAN_TREE)\n")
        raise SystemExit(2)
    raise SystemExit(run(tree))
