"""Rendering ``highmem check`` results: the summary table and the finding details."""

from __future__ import annotations

from typing import Any

from highmem.sim.explore import Exploration

__all__ = ["render_explorations", "exploration_json"]


def exploration_json(ex: Exploration, files: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    """One scenario's result as JSON (``findings`` carry kind, message and the shrunk schedule)."""
    d = ex.to_dict()
    for f, rep in zip(d["findings"], ex.by_kind.values(), strict=True):
        f["schedule"] = [list(c) for c in rep.choices]
        if files and rep.kind in files.get(ex.scenario.name, {}):
            f["schedule_file"] = files[ex.scenario.name][rep.kind]
    d["expected"] = sorted(ex.scenario.expect)
    return d


def render_explorations(exs: list[Exploration], console: Any, files: dict[str, dict[str, str]],
                        details: bool = True) -> None:
    """The summary table, then each scenario's first (shrunk) finding of every kind."""
    from rich.table import Table

    t = Table(title="highmem check", title_justify="left")
    for col in ("scenario", "profile", "strategy", "schedules", "steps", "findings (schedules with it)", "expected"):
        t.add_column(col, justify="right" if col in ("schedules", "steps") else "left")
    for ex in exs:
        if ex.counts:
            kinds = "\n".join(f"[bold red]{k}[/] ×{n}" for k, n in sorted(ex.counts.items()))
        else:
            kinds = "[green]none[/]"
        expected = ", ".join(sorted(ex.scenario.expect)) or "clean"
        match = set(ex.counts) == set(ex.scenario.expect)
        mark = "[green]✓[/]" if match else "[yellow]≠[/]"
        sched = f"{ex.schedules}" + (" (all)" if ex.exhausted else "")
        lost = sum(b - a for a, b in ex.unexplored)
        if lost:
            # Lost work is never shown as a match: what it would have found is unknown.
            sched += f" (+{lost} lost)"
            mark = "[yellow]incomplete[/]"
        t.add_row(ex.scenario.name, ex.config.profile, ex.strategy, sched, str(ex.steps), kinds,
                  f"{mark} {expected}")
    console.print(t)
    for ex in exs:
        s = ex.stats
        if s.get("pkmap_high_water") or s.get("bounce_pages_used") or s.get("global_tlb_flushes"):
            console.print(
                f"{ex.scenario.name}: pkmap high-water {s['pkmap_high_water']} entries "
                f"(waits {s['pkmap_waits']}, wraps {s['pkmap_wraps']}); global TLB flushes "
                f"{s['global_tlb_flushes']}; bounce pages used {s['bounce_pages_used']} "
                f"({s['bounce_pool_allocs']} from the emergency pool, low-water {s['emergency_pool_low_water']}) "
                f"over {ex.schedules} schedules", highlight=False)
    if not details:
        return
    for ex in exs:
        for rep in ex.by_kind.values():
            f = rep.finding
            console.print(f"\n[bold]{ex.scenario.name}[/]: [bold red]{f.kind}[/] "
                          f"(first in schedule {rep.first_schedule}, in {rep.schedules} of {ex.schedules})",
                          highlight=False)
            console.print(f"  {f.message}", highlight=False, markup=False)
            where = []
            if f.slot:
                where.append(f"slot {f.slot['type']} idx {f.slot['idx']} fixmap {f.slot['fixmap']} "
                             f"{f.slot['vaddr']:#010x}")
            if f.pages:
                where.append("pages " + ", ".join(f"{p:#x}" for p in f.pages))
            if f.steps:
                where.append("steps " + ", ".join(str(s) for s in f.steps))
            if f.contexts:
                where.append("contexts " + ", ".join(f.contexts))
            if where:
                console.print("  " + "; ".join(where), highlight=False, markup=False)
            sched = ", ".join(f"{p}: {lab}" for p, lab in rep.choices) or "the default schedule"
            shrunk = f" (shrunk from {rep.original_choices} choices)" if rep.shrunk else ""
            console.print(f"  schedule{shrunk}: {sched}", highlight=False, markup=False)
            if f.stack:
                console.print(f.stack, highlight=False, markup=False)
            path = files.get(ex.scenario.name, {}).get(rep.kind)
            if path:
                # --replay loads only built-ins by itself: a file or module is named again.
                again = "" if ex.scenario.source.startswith("builtin:") else f" {ex.scenario.source}"
                console.print(f"  replay: highmem check --replay {path}{again}", highlight=False, markup=False)
