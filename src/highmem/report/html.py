"""The HTML report of one run: a single self-contained file built from a trace.

The page has no external resource (inline CSS, inline script, the trace as inline JSON) and
works offline.  It shows

* a summary: scenario, profile, steps, CPUs, the contexts (each in the colour it has everywhere
  in the page), which schedule this is, and the findings, each with its events linked;
* a timeline drawn on a canvas, one lane per CPU: the contexts nested by stack depth, the kmap
  slots (a holding in the holder's colour, a map of a slot another context holds hatched, the
  holder's mapping marked stale from then on), lanes for the interrupt flag, bottom halves,
  preempt count, spin locks held and pending IPIs, marks for TLB flushes, faults, BUG() and WARN,
  and a strip of every event.  It zooms and pans (wheel, drag, keys) under an overview of the
  whole run, and draws only what is in view, so long runs stay fast;
* a player: at step N, each CPU's context stack, IF/BH/preempt state, its kmap slots (PTE decoded,
  TLB entry absent/current/stale, holder, and the slot's state in Gorman's terms: free, mapped or
  stale), the pkmap pool's counts and the events of step N;
* the events (a windowed table: only the rows in view exist) and the selected record's JSON.

What the script draws comes from :mod:`highmem.report.page_data` (the analysed trace, packed).
Every string that comes from a scenario or a trace is escaped, in the HTML and in the JSON.
"""

from __future__ import annotations

import argparse
import json
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from highmem.errors import HighmemError
from highmem.report.page_data import context_colours, page_data
from highmem.report.timeline_model import (
    Model,
    _addr,
    _finding_events,
    _findings_of,
    _hex,
    _int,
    analyse,
    summarize,
)

__all__ = ["render_html", "cmd_report", "report_filename", "check_report_targets", "write_check_reports",
           "analyse"]

KIND_LABEL = {"task": "task", "softirq": "softirq", "hardirq": "hard IRQ"}


def _e(v: Any) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    import html

    return html.escape(str(v), quote=True)


@cache
def _asset(name: str) -> str:
    return resources.files("highmem.report").joinpath("assets", name).read_text(encoding="utf-8")


def _script() -> str:
    """The page's script: the timeline and the player, in one function scope (they share its state)."""
    return '(function () {\n"use strict";\n' + _asset("timeline.js") + _asset("player.js") + "})();\n"


def report_filename(name: str) -> str:
    """A file name for scenario ``name``'s report: characters other than letters, digits, ``.-_`` become ``_``."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name).strip(".") or "scenario"
    return f"{safe}.html"


def _which_schedule(header: dict[str, Any], nf: int) -> str:
    """One sentence: which schedule this page draws and, for a clean run, that it is clean."""
    explored = header.get("explored")
    n = explored if isinstance(explored, int) and not isinstance(explored, bool) else None
    idx = header.get("schedule_index")
    if isinstance(header.get("replay"), str):
        what = f"the schedule replayed from {header['replay']}"
    elif isinstance(idx, int) and not isinstance(idx, bool):
        what = f"schedule {idx}" + (", the first" if idx == 0 else "") + (f" of the {n} explored" if n else "")
    elif nf:
        what = "the shrunk schedule of the first finding"
    else:
        what = "this run's schedule"
    if nf:
        return f"This page draws {what}."
    if n and header.get("explored_kinds") == []:
        what = what.replace(f" of the {n} explored", "")
        return (f"Clean: the checker found nothing in the {n} schedule{'s' if n != 1 else ''} explored. "
                f"This page draws {what}.")
    return f"Clean run: the checker found nothing in this schedule. This page draws {what}."


def _summary(header: dict[str, Any], model: Model, records: list[dict[str, Any]],
             findings: list[dict[str, Any]], fevents: list[list[int]], colours: dict[str, str]) -> str:
    """The summary: facts of the run as a definition grid, the contexts, the findings."""
    scen = str(header.get("scenario", "?"))
    src = header.get("source")
    nev = sum(1 for r in records if r.get("kind") not in ("cpu_state", "slot_state", "pkmap_state"))
    facts = [("scenario", _e(scen) + (f' <span class="hint">{_e(src)}</span>' if src and src != scen else "")),
             ("profile", _e(header.get("profile", "?"))),
             ("steps", f'{model.last} <span class="hint">{nev} events</span>'),
             ("CPUs", str(model.cpus))]
    groups: dict[tuple[str, str, Any], list[str]] = {}
    for name, kind in model.kinds.items():
        k = kind if kind in KIND_LABEL else "task"
        base = re.sub(r"#\d+$", "", name) if k != "task" else name
        groups.setdefault((base, k, model.ctx_cpu.get(name, "?")), []).append(name)
    chips = []
    for (base, k, cpu), names in groups.items():
        label = names[0] if len(names) == 1 else f"{base} ×{len(names)}"
        chips.append(f'<span class="chip {k}" data-context="{_e(names[0])}" style="background:'
                     f'{colours.get(names[0], "#5d6b7e")}" title="{_e(", ".join(names[:50]))}">{_e(label)} '
                     f'<small>{_e(KIND_LABEL[k])} · CPU {_e(cpu)}</small></span>')
    choices = header.get("choices")
    sched = ""
    if isinstance(choices, list):
        pairs = [f"{_e(c[0])}: {_e(c[1])}" for c in choices if isinstance(c, list) and len(c) == 2]
        if len(pairs) > 6:
            sched = (f'<details class="hint"><summary>{len(pairs)} choices</summary>'
                     f'{", ".join(pairs)}</details>')
        else:
            sched = f'<span class="hint">{", ".join(pairs) or "the default (option 0 at every choice point)"}</span>'
    facts.append(("schedule", f"{_e(_which_schedule(header, len(findings)))} {sched}"))
    out = ['<dl class="facts">']
    for k, v in facts:
        out.append(f'<div class="fact f-{_e(k)}"><dt>{_e(k)}</dt><dd>{v}</dd></div>')
    out.append("</dl>")
    out.append(f'<div class="contexts"><h3>contexts</h3>{"".join(chips) or "none"}</div>')
    out.append(f'<div class="findings-box"><h3>findings</h3>{_finding_cards(findings, fevents, records)}</div>')
    return "".join(out)


def _finding_cards(findings: list[dict[str, Any]], fevents: list[list[int]], records: list[dict[str, Any]]) -> str:
    if not findings:
        return '<span class="clean">none: the checker found nothing in this run</span>'
    out = ['<div class="findings">']
    for n, (f, evs) in enumerate(zip(findings, fevents, strict=True), start=1):
        where = []
        slot = f.get("slot")
        if isinstance(slot, dict):
            where.append(f"slot {slot.get('type')} (idx {slot.get('idx')}, fixmap {slot.get('fixmap')}, "
                         f"{_addr(slot.get('vaddr'))})")
        pages = f.get("pages")
        if isinstance(pages, list) and pages:
            where.append("pages " + ", ".join(_hex(p) for p in pages))
        links = []
        for j, i in enumerate(evs, start=1):
            r = records[i]
            links.append(f'<a class="step" href="#ev-{i}" data-ev="{i}" data-step="{_e(r.get("step"))}" '
                         f'title="{_e(summarize(r))}"><b>{j}</b> step {_e(r.get("step"))}: {_e(r.get("kind"))} '
                         f'by {_e(r.get("context", "-"))}</a>')
        msg = f.get("message") or "(this trace records only the finding's kind)"
        out.append(f'<div class="finding" id="finding-{n}"><span class="num">{n}</span>'
                   f'<span class="fkind">{_e(f.get("kind", "?"))}</span> <span class="msg">{_e(msg)}</span>'
                   + (f'<div class="where">{_e("; ".join(where))}</div>' if where else "")
                   + ('<div class="links">' + "".join(links) + "</div>" if links else "") + "</div>")
    out.append("</div>")
    return "".join(out)


def _legend() -> str:
    items = [
        ('<span class="sw" style="background:#2f6fb7"></span>', "a context (its own colour, as in the summary)"),
        ('<span class="sw" style="background:#d3e1f1;border:1px solid #2f6fb7"></span>',
         "slot held (tint of the holder's colour)"),
        ('<span class="sw hatch-warn"></span>', "slot mapped while another context holds it"),
        ('<span class="sw hatch-stale"></span>', "holder's mapping is stale"),
        ('<span class="sw" style="background:#f2b8b5"></span>', "IF off · BH off · preempt > 0 · lock held · "
                                                                 "IPI pending"),
        ("◆", "__flush_tlb_one"), ("▮", "TLB flush all"),
        ('<span style="color:#d62839">▲</span>', "fault, BUG()"), ('<span style="color:#d99a00">▲</span>', "WARN"),
        ('<span class="dot">1</span>', "a finding's events, in order"),
    ]
    return ('<div class="legend">' + "".join(f"<span>{a} {_e(b)}</span>" for a, b in items) + "</div>")


def _script_json(obj: Any) -> str:
    """JSON safe inside a <script> element: no '<', '>' or '&' survive literally."""
    return (json.dumps(obj, separators=(",", ":"), ensure_ascii=True).replace("<", "\\u003c")
            .replace(">", "\\u003e").replace("&", "\\u0026"))


_BODY = """
<section id="timeline-section"><div class="sec-head"><h2>Timeline</h2>
<div class="toolbar" role="toolbar" aria-label="timeline view">
<button type="button" id="zoom-in" title="zoom in (+)">+</button><button type="button" id="zoom-out"
 title="zoom out (-)">&minus;</button><button type="button" id="zoom-fit" title="whole run (0)">fit</button>
<span id="range" class="hint"></span></div></div>
<details class="lanes-pick"><summary>lanes drawn</summary><div id="lane-toggles"></div></details>
{legend}
<canvas id="overview" height="44" aria-label="overview of the whole run: drag to move the view"></canvas>
<div class="tl-wrap"><canvas id="timeline" aria-label="timeline, one lane per CPU"></canvas></div>
<p class="hint">Wheel or +/&minus; zooms, drag or Shift+wheel or Shift+&larr;/&rarr; pans, 0 shows the whole run.
Click the timeline to step the player there; hover for a summary.</p></section>
<section id="player"><div class="sec-head"><h2>Step through it</h2>
<div class="controls"><button type="button" id="p-first" title="first step (Home)">|&#x25C0;</button><button
 type="button" id="p-prev" title="previous step with a record (&larr;)">&#x25C0; back</button><button type="button"
 id="p-next" title="next step with a record (&rarr;)">forth &#x25B6;</button><button type="button" id="p-last"
 title="last step (End)">&#x25B6;|</button>
<label class="stepbox">step <input type="number" id="p-step" min="0" value="0"></label></div></div>
<input type="range" id="p-slider" min="0" value="0" aria-label="step">
<div id="p-events" class="p-events"></div>
<div id="p-note" class="hint"></div>
<div id="p-cpus" class="p-cpus"></div>
<label class="hint"><input type="checkbox" id="p-all"> show every kmap slot, not only those used</label>
<div id="p-pkmap" class="hint"></div>
</section>
<section class="bottom"><div><h2>Events</h2><div class="events" id="events" tabindex="0">
<div class="evhead"><span>step</span><span>CPU</span><span>context</span><span>kind</span><span>what</span></div>
<div id="ev-body" class="ev-body"></div></div></div>
<div><h2>Details</h2><pre id="detail">Click an event, a bar or a mark to see its record here.</pre>
<p class="hint">Trace schema {schema} version {version}.</p></div></section>
"""


def render_html(header: dict[str, Any], records: list[dict[str, Any]], title: str | None = None,
                findings: list[dict[str, Any]] | None = None) -> str:
    """The self-contained HTML report of one trace.

    ``findings`` are :meth:`Finding.to_dict` dicts; by default they come from
    the header (``findings``, or only the ``finding`` kind of older traces).
    """
    fl = _findings_of(header, findings)
    model = analyse(header, records)
    by_step: dict[int, list[int]] = {}
    for i, r in enumerate(records):
        by_step.setdefault(_int(r.get("step"), 0), []).append(i)
    fevents = [_finding_events(f, by_step, records) for f in fl]
    colours = context_colours(model)
    data = page_data(header, records, model, fl, fevents)
    scen = str(header.get("scenario", "trace"))
    title = title if title is not None else f"highmem report: {scen}"
    nf = len(fl)
    status = (f'<span class="fkind">{nf} finding{"s" if nf != 1 else ""}</span>' if nf
              else '<span class="clean">clean</span>')
    body = _BODY.format(legend=_legend(), schema=_e(header.get("schema", "highmem-trace")),
                        version=_e(header.get("version", 1)))
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_asset('report.css')}</style>"
        f"<script>{_asset('onerror.js')}</script></head><body>",
        f'<header><h1>{_e(title)}</h1><span class="sub">{_e(header.get("profile", ""))} · '
        f'{model.cpus} CPU{"s" if model.cpus != 1 else ""} · {model.last} steps</span> {status}</header><main>',
        f'<section id="summary">{_summary(header, model, records, fl, fevents, colours)}</section>',
        body,
        '</main><div id="tip" hidden></div>',
        f'<script type="application/json" id="trace-data">{_script_json(data)}</script>',
        f"<script>{_script()}</script></body></html>\n",
    ])


# -- commands ----------------------------------------------------------------------------------------
def cmd_report(args: argparse.Namespace) -> int:
    """``highmem report TRACE -o FILE``: write the HTML report of a trace file (or, with
    ``--trace-format``, the trace converted to that format)."""
    from highmem.report.exports import check_trace_format, write_trace_as
    from highmem.report.output import write_text
    from highmem.report.trace_io import read_trace

    fmt = getattr(args, "trace_format", None)
    if fmt is not None:
        fmt = check_trace_format(fmt)
    header, records = read_trace(args.trace)
    out = Path(args.output)
    if fmt is not None:
        write_trace_as(out, fmt, header, records)
    else:
        write_text(out, render_html(header, records), "report")
    return 0


def check_report_targets(args: argparse.Namespace) -> None:
    """Refuse unusable ``--trace FILE`` / ``--html DIR`` / ``--trace-format`` / ``--schedule`` before exploring."""
    from highmem.report.exports import check_trace_format
    from highmem.report.trace_io import check_trace_target

    fmt = getattr(args, "trace_format", None)
    check_trace_format(fmt)
    if fmt is not None and not (getattr(args, "trace", None) or getattr(args, "out", None)):
        raise HighmemError(f"--trace-format {fmt} applies only with --trace or --out: it is the format of the "
                           "traces they write")
    k = getattr(args, "schedule", None)
    if k is not None:
        if not (getattr(args, "trace", None) or getattr(args, "html", None)):
            raise HighmemError(f"--schedule {k} applies only with --trace or --html: it chooses the schedule "
                               "they draw")
        if k < 0:
            raise HighmemError(f"--schedule {k} is invalid: schedules are numbered from 0")
        n = getattr(args, "schedules", None)
        if isinstance(n, int) and k >= n:
            raise HighmemError(f"--schedule {k} is beyond the schedules explored: --schedules {n} explores "
                               f"schedules 0 to {n - 1}")
    if getattr(args, "trace", None):
        check_trace_target(args.trace)
    if getattr(args, "html", None):
        d = Path(args.html)
        if d.exists() and not d.is_dir():
            raise HighmemError(f"--html {d} is a file: name a directory to write reports into")


def write_check_reports(exs: list[Any], args: argparse.Namespace) -> dict[str, str]:
    """``check --trace FILE`` and ``check --html DIR``; returns scenario name -> report path.

    A report draws ``--schedule K`` when given, else the shrunk schedule of the scenario's first
    finding, else (a clean scenario) its schedule 0, and says so.
    """
    from highmem.report.exports import check_trace_format, html_report_path
    from highmem.report.output import write_text
    from highmem.report.trace_io import check_schedule_index, record_schedule, write_first_trace

    k = getattr(args, "schedule", None)
    bounds = (getattr(args, "max_preemptions", 2), getattr(args, "max_interrupts", 2))
    if k is not None:
        for ex in exs:
            check_schedule_index(ex, k)
    if getattr(args, "trace", None):
        # The first scenario, as docs/check.md says.
        write_first_trace(exs[:1], args.trace, args.depth, check_trace_format(getattr(args, "trace_format", None)),
                          index=k, bounds=bounds)
    written: dict[str, str] = {}
    if getattr(args, "html", None):
        d = Path(args.html)
        taken: set[str] = set()
        for ex in exs:
            rep = next(iter(ex.by_kind.values()), None)
            choices = rep.choices if rep is not None and k is None else None
            header, records, findings = record_schedule(ex, choices, depth=args.depth, index=k, bounds=bounds)
            path = html_report_path(d, ex.scenario.name, taken)
            write_text(path, render_html(header, records, findings=findings), "report")
            written[ex.scenario.name] = str(path)
    return written
