"""How many schedules PCT (depth 2) needs to reach the first finding, versus the random strategy.

Scenario: the built-in ``irq-uses-user-slot`` on its own machine
(linux-2.4, 2 CPUs, 2 GiB).  For each seed 0..19 the search is
``explore(sc, cfg, strategy=..., seed=seed, schedules=cap, stop_on_first=True,
do_shrink=False)``: schedule i of seed s is seeded ``schedule_seed(s, i)``,
exactly as ``highmem check --seed s`` does, and PCT's ``k`` is the length of
the default schedule (``pct_k``, one extra calibration run per search).  The
count is ``Exploration.schedules`` when the search stopped on a finding, or
">= cap" when the cap was reached first.

Caps: 2,000 schedules for both.  The median of 20 counts is the mean of the
10th and 11th smallest; once 11 random searches reached the cap that median
is ">= cap" whatever the other 9 seeds do, so the remaining random seeds are
skipped (said so in the row).  Random search costs about a schedule's boot
and run per schedule, so this keeps the full benchmark run short.

Targets: PCT needs >= 10x fewer schedules than random (a lower bound when
random hit the cap: cap / PCT's median); PCT's median search takes < 1 s of
wall time (boot of every schedule, the calibration run and the runs; the
median of the 20 searches).
"""

from __future__ import annotations

import statistics
import time

from floor import Row, ratio_table
from highmem.scenarios import load_builtin
from highmem.sim.explore import explore

__all__ = ["run", "search", "TARGET_FEWER", "TARGET_SECONDS"]

SCENARIO = "irq-uses-user-slot"
SEEDS = range(20)
CAP = {"pct": 2000, "random": 2000}
DEPTH = 2
TARGET_FEWER = 10.0
TARGET_SECONDS = 1.0


def search(strategy: str, seed: int, cap: int) -> tuple[int | None, float, list[str]]:
    """(schedules to the first finding or None when the cap was reached, wall seconds, kinds found)."""
    sc = load_builtin(SCENARIO)
    cfg = sc.config()
    t0 = time.perf_counter()
    ex = explore(sc, cfg, strategy=strategy, schedules=cap, seed=seed, depth=DEPTH, stop_on_first=True,
                 do_shrink=False)
    dt = time.perf_counter() - t0
    return (ex.schedules if ex.by_kind else None), dt, sorted(ex.by_kind)


def median_counts(strategy: str, cap: int, early_stop: bool) -> tuple[float, bool, list[int | None], list[float]]:
    """(median, censored: the median is a lower bound, counts per seed run or None at the cap, seconds per seed)."""
    counts: list[int | None] = []
    secs: list[float] = []
    need = len(SEEDS) // 2 + 1  # capped searches that put the median at the cap
    for seed in SEEDS:
        n, dt, _kinds = search(strategy, seed, cap)
        counts.append(n)
        secs.append(dt)
        if early_stop and sum(c is None for c in counts) >= need:
            break
    capped = sum(c is None for c in counts)
    if capped >= need:
        return float(cap), True, counts, secs
    if len(counts) < len(SEEDS):
        raise AssertionError("early stop without a censored median")
    # A search that hit the cap counts as cap (a lower bound); when the 11th smallest count is such a
    # lower bound, so is the median.
    vals = sorted(cap if c is None else c for c in counts)
    return float(statistics.median(vals)), capped >= len(SEEDS) // 2, counts, secs


def _fmt_median(med: float, censored: bool) -> str:
    return f">= {med:g}" if censored else f"{med:g}"


def run() -> list[Row]:
    pct_med, pct_cens, pct_counts, pct_secs = median_counts("pct", CAP["pct"], early_stop=False)
    rnd_med, rnd_cens, rnd_counts, _ = median_counts("random", CAP["random"], early_stop=True)
    if pct_cens:
        ratio_text, ok = "n/a (PCT hit its cap)", False
    else:
        fewer = rnd_med / pct_med
        ratio_text = f"{'>= ' if rnd_cens else ''}{fewer:.1f}x fewer"
        ok = fewer >= TARGET_FEWER
    found = sum(c is not None for c in rnd_counts)
    rnd_note = f"random {_fmt_median(rnd_med, rnd_cens)} ({found}/{len(rnd_counts)} seeds found"
    rnd_note += f", {len(SEEDS) - len(rnd_counts)} skipped)" if len(rnd_counts) < len(SEEDS) else ")"
    pct_found = sum(c is not None for c in pct_counts)
    med_secs = statistics.median(pct_secs)
    return [
        Row(f"PCT d={DEPTH} schedules to 1st finding, {SCENARIO} (median, seeds 0-19)",
            f"{_fmt_median(pct_med, pct_cens)} ({pct_found}/20 found; "
            f"range {min(c for c in pct_counts if c is not None) if pct_found else '-'}-"
            f"{max(c for c in pct_counts if c is not None) if pct_found else '-'})",
            rnd_note, ratio_text, f">= {TARGET_FEWER:g}x fewer", ok),
        Row(f"PCT d={DEPTH} search to 1st finding: wall time (median of 20)",
            f"{med_secs:.3f} s", f"max {max(pct_secs):.3f} s", "", f"< {TARGET_SECONDS:g} s",
            med_secs < TARGET_SECONDS),
    ]


if __name__ == "__main__":
    ratio_table(run(), f"PCT vs random on {SCENARIO}: schedules to the first finding")
