"""Comparing generations: one scenario explored on every profile with the same strategy and seed.

Each cell is the set of finding kinds a profile shows ("clean" when none),
or "n/a" with the reason when the scenario cannot run there at all (an
option, km type or primitive the generation does not have).
"""

from __future__ import annotations

from typing import Any

from highmem._record import field, record
from highmem.errors import HighmemError
from highmem.profiles import PROFILE_NAMES, get_profile
from highmem.scenarios.model import Scenario
from highmem.sim.explore import Exploration, explore

__all__ = ["CompareCell", "compare", "parse_profiles"]


@record
class CompareCell:
    """One scenario on one profile."""

    scenario: str
    profile: str
    status: str
    kinds: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    schedules: int = 0
    steps: int = 0
    reason: str = ""
    findings: list[dict[str, Any]] = field(default_factory=list)
    exploration: Exploration | None = None

    @property
    def summary(self) -> str:
        if self.status == "n/a":
            return "n/a"
        return ", ".join(self.kinds) or "clean"

    def to_dict(self) -> dict[str, Any]:
        d = {"scenario": self.scenario, "profile": self.profile, "status": self.status, "kinds": self.kinds,
             "counts": self.counts, "schedules": self.schedules, "steps": self.steps,
             "findings": self.findings}
        if self.reason:
            d["reason"] = self.reason
        return d


def parse_profiles(text: str | None) -> list[str]:
    """``linux-2.4,linux-5.11`` as a list; every name checked; default all profiles."""
    if not text:
        return list(PROFILE_NAMES)
    names = [p.strip() for p in text.split(",") if p.strip()]
    if not names:
        raise HighmemError("--profiles is empty: give a comma-separated list such as linux-2.4,linux-5.11")
    for n in names:
        get_profile(n)
    return names


def compare(scenarios: list[Scenario], profiles: list[str], *, strategy: str = "pct", schedules: int = 100,
            seed: int = 0, depth: int = 2, max_preemptions: int = 2, max_interrupts: int = 2,
            config: list[str] | None = None) -> list[CompareCell]:
    """Explore every scenario on every profile; cells in scenario-major order."""
    cells: list[CompareCell] = []
    for sc in scenarios:
        for prof in profiles:
            try:
                cfg = sc.config(prof, config)
                ex = explore(sc, cfg, strategy=strategy, schedules=schedules, seed=seed, depth=depth,
                             max_preemptions=max_preemptions, max_interrupts=max_interrupts)
            except HighmemError as e:
                cells.append(CompareCell(sc.name, prof, "n/a", reason=str(e)))
                continue
            cells.append(CompareCell(sc.name, prof, "ok", sorted(ex.counts), dict(sorted(ex.counts.items())),
                                     ex.schedules, ex.steps,
                                     findings=[r.finding.to_dict() for r in ex.by_kind.values()], exploration=ex))
    return cells
