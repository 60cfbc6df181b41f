"""Digests of explorations and of their findings' traces, pinned before boot-once-per-exploration.

``python tests/explore_digest_support.py > tests/data/explore_digests.json`` wrote the pinned file
from the code as it was before snapshots (commit 9461c67); tests/test_explore_digests.py compares
explorations restored from snapshots with it.  When the model's behaviour changes on purpose, the
same command regenerates it, booting afresh for every schedule (``snapshot=False``).
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

from highmem.errors import HighmemError
from highmem.profiles import PROFILE_NAMES
from highmem.scenarios import builtin_names, load_builtin
from highmem.sim.explore import explore, run_once
from highmem.sim.strategy import SparseReplayStrategy

#: (strategy, schedules) explored per built-in and profile; bounce-io is long, so it gets fewer.
PLAN = (("random", 12), ("pct", 12), ("exhaustive", 16))
SHORT = {"bounce-io": 2}


def digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=repr).encode()).hexdigest()[:24]


def cell_digests(name: str, profile: str, snapshot: bool = True) -> dict[str, str] | None:
    """Digest of each strategy's exploration of built-in ``name`` on ``profile`` (None: n/a)."""
    sc = load_builtin(name)
    try:
        cfg = sc.config(profile)
    except HighmemError:
        return None
    out: dict[str, str] = {}
    for strategy, n in PLAN:
        n = SHORT.get(name, n)
        try:
            ex = explore(sc, cfg, strategy=strategy, schedules=n, seed=3, snapshot=snapshot)
        except HighmemError as e:
            out[strategy] = "error: " + str(e)
            continue
        traces = []
        for rep in ex.by_kind.values():
            _, rec = run_once(sc, cfg, SparseReplayStrategy(rep.choices), trace=True)
            traces.append(rec.records)
        out[strategy] = digest([ex.to_dict(), traces])
    return out


def all_digests(snapshot: bool = False) -> dict[str, dict[str, str] | None]:
    return {f"{name} {p}": cell_digests(name, p, snapshot) for name in builtin_names() for p in PROFILE_NAMES}


if __name__ == "__main__":
    json.dump(all_digests(), sys.stdout, indent=1, sort_keys=True)
    print()
