"""How results show themselves in Jupyter (``_repr_html_``) and in a plain REPL (``__repr__``).

:class:`~highmem.sim.explore.Exploration` and :class:`~highmem.sim.findings.Finding` delegate
here on first display, so the simulation layers import no presentation code until a notebook
asks.  An exploration's HTML is its summary, one card per finding kind, and the timeline of its
first finding inline (the ``highmem report`` page in an ``iframe``), unless ``timeline=False``.
"""

from __future__ import annotations

import html
from typing import Any

from highmem.words import plural

__all__ = ["exploration_html", "exploration_text", "finding_html"]


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def exploration_text(ex: Any) -> str:
    """One line for a REPL: scenario, profile, schedules, steps and the kinds found."""
    kinds = ", ".join(f"{k} x{n}" for k, n in sorted(ex.counts.items())) or "nothing"
    return (f"<Exploration {ex.scenario.name} on {ex.config.profile}: {ex.strategy}, "
            f"{plural(ex.schedules, 'schedule')}, {plural(ex.steps, 'step')}; found {kinds}>")


def finding_html(f: Any) -> str:
    """A finding as an HTML card: kind, message, and where (slot, pages, steps, contexts)."""
    rows = []
    if f.contexts:
        rows.append(("contexts", ", ".join(f.contexts)))
    if f.cpu is not None:
        rows.append(("CPU", str(f.cpu)))
    if f.slot:
        rows.append(("slot", f"{f.slot['type']} idx {f.slot['idx']} fixmap {f.slot['fixmap']} "
                             f"{f.slot['vaddr']:#010x}"))
    if f.pages:
        rows.append(("pages", ", ".join(f"{p:#x}" for p in f.pages)))
    if f.steps:
        rows.append(("steps", ", ".join(str(s) for s in f.steps)))
    body = "".join(f"<tr><th style='text-align:left'>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    stack = f"<pre>{_e(f.stack)}</pre>" if f.stack else ""
    return (f"<div class='highmem-finding'><b style='color:#b00'>{_e(f.kind)}</b>: {_e(f.message)}"
            f"<table>{body}</table>{stack}</div>")


def exploration_html(ex: Any, timeline: bool = True) -> str:
    """An exploration as HTML: summary table, finding cards with their shrunk schedules, and
    (``timeline``) the first finding's timeline inline."""
    want = set(ex.scenario.expect)
    kinds = sorted(set(ex.counts) | want)
    lines = []
    for k in kinds:
        mark = "&#10003;" if (k in ex.counts) == (k in want) else "&#8800;"
        n = f" &times;{ex.counts[k]}" if k in ex.counts else " not found"
        lines.append(f"{mark} {_e(k)}{n}" + (" (unexpected)" if k in ex.counts and k not in want else ""))
    found = "<br>".join(lines) or "&#10003; none"
    head = (f"<table><tr><th>scenario</th><th>profile</th><th>strategy</th><th>schedules</th><th>steps</th>"
            f"<th>findings (&times;schedules)</th></tr><tr><td>{_e(ex.scenario.name)}</td><td>{_e(ex.config.profile)}"
            f"</td><td>{_e(ex.strategy)}</td><td>{ex.schedules}{' (all)' if ex.exhausted else ''}</td>"
            f"<td>{ex.steps}</td><td>{found}</td></tr></table>")
    cards = []
    for kind, rep in ex.by_kind.items():
        sched = ", ".join(f"{p}: {lab}" for p, lab in rep.choices) or "the default schedule"
        cards.append(f"{finding_html(rep.finding)}<div>first in schedule {rep.first_schedule}, in "
                     f"{rep.schedules} of {plural(ex.schedules, 'schedule')}; schedule: <code>{_e(sched)}</code>"
                     f"</div>")
        del kind
    frame = ""
    if timeline:
        from highmem.api import record_trace
        from highmem.report.html import render_html

        header, records = record_trace(ex)
        page = render_html(header, records, findings=header.get("findings"))
        frame = (f"<iframe srcdoc=\"{_e(page)}\" style='width:100%;height:520px;border:1px solid #ccc'>"
                 "</iframe>")
    return f"<div class='highmem-exploration'>{head}{''.join(cards)}{frame}</div>"
