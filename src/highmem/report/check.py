"""Rendering ``highmem check`` results: the summary table and the finding details."""

from __future__ import annotations

from highmem.errors import HighmemError
from highmem.sim.explore import Exploration
from highmem.words import plural

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["render_explorations", "exploration_json", "explain", "symbols", "dpor_verdict"]


def escape(text: str) -> str:
    """``rich.markup.escape``, imported only when a table is drawn (``--json`` never needs rich)."""
    from rich.markup import escape as _escape

    return _escape(text)


def _shown_path(path: str) -> str:
    """A built-in as ``builtin:NAME.toml``, a file under the working directory relative to it."""
    import os
    from pathlib import Path  # here, not at import: --json never shows a path

    p = Path(path)
    if p.parent.name == "builtin" and p.parent.parent.name == "scenarios":
        return f"builtin:{p.name}"
    try:
        return str(p.resolve().relative_to(Path(os.getcwd()).resolve()))
    except ValueError:
        return path


def explain(ex: Exploration, kind: str) -> tuple[list[dict[str, Any]], str | None]:
    """The operations involved in ``ex``'s first ``kind`` finding (step, context, ``file:line``,
    operation) and why its window was open; one replay of the shrunk schedule, kept on the
    exploration.  Any context; after exploration only."""
    cache = ex.__dict__.setdefault("_explained", {})
    if kind not in cache:
        from highmem.report.locate import explain_finding

        rep = ex.by_kind[kind]
        try:
            sites, why = explain_finding(ex.scenario, ex.config, rep.choices, rep.finding)
        except HighmemError:
            sites, why = [], None
        cache[kind] = ([{"step": st.step, "context": st.context,
                         "at": _shown_path(st.path) + (f":{st.line}" if st.line else ""), "op": st.op}
                        for st in sites if st.step is not None], why)
    return cache[kind]


def exploration_json(ex: Exploration, files: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    """One scenario's result as JSON (``findings`` carry kind, message, the shrunk schedule, the
    operations involved and why the window was open)."""
    d = ex.to_dict()
    for f, rep in zip(d["findings"], ex.by_kind.values(), strict=True):
        f["schedule"] = [list(c) for c in rep.choices]
        f["operations"], f["window"] = explain(ex, rep.kind)
        if files and rep.kind in files.get(ex.scenario.name, {}):
            f["schedule_file"] = files[ex.scenario.name][rep.kind]
    d["expected"] = sorted(ex.scenario.expect)
    if ex.dpor is not None:
        d["dpor"]["verdict"] = dpor_verdict(ex)
    return d


def symbols(console: Any) -> dict[str, str]:
    """The marks the tables use: box-drawing and math symbols, or ASCII when the console's
    encoding cannot carry them (a latin-1 or C-locale terminal, a pipe into such a file)."""
    try:
        "┏━┃✓≠×·".encode(console.encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return {"ok": "ok", "ne": "!=", "times": "x", "dot": ";", "ascii": "1"}
    return {"ok": "✓", "ne": "≠", "times": "×", "dot": "·", "ascii": ""}


def _summary_table(exs: list[Exploration], console: Any, sym: dict[str, str]) -> Any:
    from rich import box
    from rich.table import Table

    strategies = sorted({ex.strategy for ex in exs})
    title = "highmem check" + (f" ({strategies[0]})" if len(strategies) == 1 else "")
    t = Table(title=title, title_justify="left", box=box.ASCII if sym["ascii"] else box.HEAVY_HEAD, safe_box=True)
    cols = ["scenario", "profile"] + (["strategy"] if len(strategies) > 1 else []) + [
        "schedules", "steps", f"findings ({sym['times']}schedules)"]
    for col in cols:
        t.add_column(col, justify="right" if col in ("schedules", "steps") else "left", overflow="fold")
    for ex in exs:
        c = _cells(ex, sym)
        t.add_row(*([c["name"], c["profile"]] + ([c["strategy"]] if len(strategies) > 1 else [])
                    + [c["schedules"], c["steps"], "\n".join(c["kinds"])]))
    return t


def _cells(ex: Exploration, sym: dict[str, str]) -> dict[str, Any]:
    """The summary of ``ex``; ``kinds``: one line per kind found or expected, marked with whether
    it matches the scenario's expect list."""
    want = set(ex.scenario.expect)
    kinds = []
    for k in sorted(set(ex.counts) | want):
        if k in ex.counts and k in want:
            kinds.append(f"[green]{sym['ok']}[/] [bold red]{k}[/] {sym['times']}{ex.counts[k]}")
        elif k in ex.counts:
            kinds.append(f"[yellow]{sym['ne']}[/] [bold red]{k}[/] {sym['times']}{ex.counts[k]} unexpected")
        else:
            kinds.append(f"[yellow]{sym['ne']}[/] {k} not found")
    if not kinds:
        kinds = [f"[green]{sym['ok']}[/] none"]
    sched = f"{ex.schedules}" + (" (all)" if ex.exhausted else "")
    lost = sum(b - a for a, b in ex.unexplored)
    if lost:
        # Lost work is never shown as a match: what it would have found is unknown.
        sched += f" (+{lost} lost)"
        kinds = [k.replace(f"[green]{sym['ok']}[/]", "[yellow]?[/]") for k in kinds] + ["[yellow]incomplete[/]"]
    return {"name": escape(ex.scenario.name), "profile": ex.config.profile, "strategy": ex.strategy,
            "schedules": sched, "steps": str(ex.steps), "kinds": kinds}


def _stacked(exs: list[Exploration], console: Any, sym: dict[str, str]) -> None:
    """The summary as one block per scenario, for terminals too narrow for the table."""
    console.print("highmem check", highlight=False)
    for ex in exs:
        c = _cells(ex, sym)
        console.print(f"[bold]{c['name']}[/]", highlight=False)
        console.print(f"  {c['profile']} {sym['dot']} {c['strategy']} {sym['dot']} "
                      f"{plural(ex.schedules, 'schedule')}" + (" (all)" if ex.exhausted else "")
                      + f" {sym['dot']} {plural(ex.steps, 'step')}", highlight=False)
        for line in c["kinds"]:
            console.print(f"  {line}", highlight=False)


def dpor_verdict(ex: Exploration) -> str:
    """What a DPOR exploration proved: every equivalence class within its bounds, or how far it got."""
    d = ex.dpor or {}
    bounds = (f"at most {plural(d.get('max_preemptions', 0), 'preemption')} of a task by another on its CPU, "
              f"at most {plural(d.get('max_interrupts', 0), 'optional interrupt arrival')}")
    redundant = d.get("redundant", 0)
    extra = f"; {plural(redundant, 'redundant run')} abandoned" if redundant else ""
    if ex.exhausted:
        return (f"exhausted: every interleaving within the bounds ({plural(ex.schedules, 'schedule')}, at least one "
                f"of every class of equivalent ones; bounds: {bounds}{extra})")
    # The search is depth first: a cut one has covered one corner of the space, not sampled it.
    return (f"not exhausted: the limit of {plural(ex.schedules, 'schedule')} came first (bounds: {bounds}{extra}); "
            "raise --schedules to prove the scenario clean within the bounds. The schedules run so far are one "
            "corner of the space (depth first), not a sample of it: to hunt bugs within a fixed budget, use "
            "--strategy pct")


def render_explorations(exs: list[Exploration], console: Any, files: dict[str, dict[str, str]],
                        details: bool = True) -> None:
    """The summary table (or, when it does not fit the console, a block per scenario), then each
    scenario's first (shrunk) finding of every kind.  Names and kinds are never truncated."""
    from rich.measure import Measurement

    sym = symbols(console)
    t = _summary_table(exs, console, sym)
    if Measurement.get(console, console.options.update_width(10_000), t).maximum <= console.width:
        console.print(t)
    else:
        _stacked(exs, console, sym)
    for ex in exs:
        s = ex.stats
        if s.get("pkmap_high_water") or s.get("bounce_pages_used") or s.get("global_tlb_flushes"):
            console.print(
                f"{ex.scenario.name}: pkmap high-water {plural(s['pkmap_high_water'], 'entry')} "
                f"(waits {s['pkmap_waits']}, wraps {s['pkmap_wraps']}); global TLB flushes "
                f"{s['global_tlb_flushes']}; bounce pages used {s['bounce_pages_used']} "
                f"({s['bounce_pool_allocs']} from the emergency pool, low-water {s['emergency_pool_low_water']}) "
                f"over {plural(ex.schedules, 'schedule')}", highlight=False, markup=False, soft_wrap=True)
    for ex in exs:
        if ex.dpor is not None:
            console.print(f"{ex.scenario.name}: {dpor_verdict(ex)}", highlight=False, markup=False, soft_wrap=True)
    if not details:
        return
    for ex in exs:
        for rep in ex.by_kind.values():
            f = rep.finding
            console.print(f"\n[bold]{escape(ex.scenario.name)}[/]: [bold red]{f.kind}[/] "
                          f"(first in schedule {rep.first_schedule}, in {rep.schedules} of {ex.schedules})",
                          highlight=False, soft_wrap=True)
            console.print(f"  {f.message}", highlight=False, markup=False, soft_wrap=True)
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
                console.print("  " + "; ".join(where), highlight=False, markup=False, soft_wrap=True)
            ops, why = explain(ex, rep.kind)
            for o in ops:
                console.print(f"  step {o['step']}: {o['context']} at {o['at']}" + (f" {o['op']}" if o["op"] else ""),
                              highlight=False, markup=False, soft_wrap=True)
            if why:
                console.print(f"  why: {why}", highlight=False, markup=False, soft_wrap=True)
            sched = ", ".join(f"{p}: {lab}" for p, lab in rep.choices) or "the default schedule"
            shrunk = f" (shrunk from {plural(rep.original_choices, 'choice')})" if rep.shrunk else ""
            console.print(f"  schedule{shrunk}: {sched}", highlight=False, markup=False, soft_wrap=True)
            if f.stack:
                console.print(f.stack, highlight=False, markup=False, soft_wrap=True)
            path = files.get(ex.scenario.name, {}).get(rep.kind)
            if path:
                # --replay loads only built-ins by itself: a file or module is named again.
                again = "" if ex.scenario.source.startswith("builtin:") else f" {ex.scenario.source}"
                console.print(f"  replay: highmem check --replay {path}{again}", highlight=False, markup=False,
                              soft_wrap=True)
