"""The HTML report of one run: a single self-contained file built from a trace.

Everything is derived from the trace records (see ``docs/trace.md``):

* per CPU, the *contexts* that ran on it: a task at the bottom of the CPU's
  stack, a softirq or hard IRQ nested on top of what it interrupted (from
  the ``context`` events);
* per CPU, the *kmap slots* over time: ``kmap_atomic`` of slot idx >= 0
  starts a holding of that slot by a context and a page, ``kunmap_atomic``
  (or the end of the context) ends it; a ``kmap_atomic`` of a slot another
  context still holds is a *clobber*, drawn in the warning colour, and the
  holder's mapping is *stale* from that step on;
* marks for TLB flushes, page faults and ``BUG()``;
* the findings, each with the events at its steps outlined and linked.

The file has no external resource: inline CSS, inline SVG and a little plain
JavaScript (hover for a summary, click for the event's JSON).  Every string
that comes from a scenario or a trace is escaped.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from highmem.errors import HighmemError
from highmem.report.html_assets import _CSS, _JS, _ONERROR
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
from highmem.report.timeline_svg import EVENT_COLOURS, KIND_COLOURS, KIND_LABEL, KIND_LIGHT, _e, _Timeline

__all__ = ["render_html", "cmd_report", "report_filename", "check_report_targets", "write_check_reports"]


def report_filename(name: str) -> str:
    """A file name for scenario ``name``'s report: characters other than letters, digits, ``.-_`` become ``_``."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name).strip(".") or "scenario"
    return f"{safe}.html"


def _summary(header: dict[str, Any], model: Model, records: list[dict[str, Any]],
             findings: list[dict[str, Any]], fevents: list[list[int]]) -> str:
    """The summary table: one row, like a row of ``highmem check``'s table."""
    scen = str(header.get("scenario", "?"))
    src = header.get("source")
    cells = [
        _e(scen) + (f'<div class="hint">{_e(src)}</div>' if src and src != scen else ""),
        _e(header.get("profile", "?")),
        f'{model.last}<div class="hint">{len(records)} events</div>',
        str(model.cpus),
    ]
    groups: dict[tuple[str, str, Any], list[str]] = {}
    for name, kind in model.kinds.items():
        k = kind if kind in KIND_COLOURS else "task"
        base = re.sub(r"#\d+$", "", name) if k != "task" else name
        groups.setdefault((base, k, model.ctx_cpu.get(name, "?")), []).append(name)
    chips = []
    for (base, k, cpu), names in groups.items():
        label = names[0] if len(names) == 1 else f"{base} ×{len(names)}"
        chips.append(f'<span class="chip {k}" title="{_e(", ".join(names[:50]))}">{_e(label)} '
                     f'<small>{_e(KIND_LABEL[k])} · CPU {_e(cpu)}</small></span>')
    choices = header.get("choices")
    sched = ""
    if isinstance(choices, list):
        pairs = [f"{_e(c[0])}: {_e(c[1])}" for c in choices if isinstance(c, list) and len(c) == 2]
        if len(pairs) > 6:
            sched = (f'<details class="hint"><summary>schedule: {len(pairs)} choices</summary>'
                     f'{", ".join(pairs)}</details>')
        else:
            text = ", ".join(pairs) or "the default (option 0 at every choice point)"
            sched = f'<div class="hint">schedule: {text}</div>'
    cells.append(("".join(chips) or "none") + sched)
    cells.append(_finding_cards(findings, fevents, records))
    heads = ["scenario", "profile", "steps", "CPUs", "contexts", "findings"]
    return ('<table class="summary"><thead><tr>' + "".join(f"<th>{h}</th>" for h in heads) + "</tr></thead>"
            '<tbody><tr>' + "".join(f'<td class="c-{h.lower()}">{c}</td>' for h, c in zip(heads, cells, strict=True))
            + "</tr></tbody></table>")


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
            links.append(f'<a class="step" href="#ev-{i}" data-ev="{i}" data-tip="{_e(summarize(r))}">'
                         f'<b>{j}</b> step {_e(r.get("step"))}: {_e(r.get("kind"))} by {_e(r.get("context", "-"))}</a>')
        msg = f.get("message") or "(this trace records only the finding's kind)"
        out.append(f'<div class="finding" id="finding-{n}"><span class="num">{n}</span>'
                   f'<span class="fkind">{_e(f.get("kind", "?"))}</span><span class="msg">{_e(msg)}</span>'
                   + (f'<div class="where">{_e("; ".join(where))}</div>' if where else "")
                   + ('<div class="links">' + "".join(links) + "</div>" if links else "") + "</div>")
    out.append("</div>")
    return "".join(out)


def _legend() -> str:
    items = [
        (KIND_COLOURS["task"], "task"), (KIND_COLOURS["softirq"], "softirq"), (KIND_COLOURS["hardirq"], "hard IRQ"),
        (KIND_LIGHT["task"], "slot held (colour of the holder)"),
    ]
    out = ['<div class="legend">']
    for colour, text in items:
        out.append(f'<span><span class="sw" style="background:{colour}"></span>{_e(text)}</span>')
    out.append('<span><span class="sw" style="background:repeating-linear-gradient(45deg,#f08a6c 0 3px,'
               '#fbd3c9 3px 6px);border:1px solid #c0392b"></span>slot taken while another context holds it</span>')
    out.append('<span><span class="sw" style="background:repeating-linear-gradient(-45deg,#e06a5a 0 2px,'
               '#fff1ee 2px 6px);border:1px dashed #c0392b"></span>holder\'s mapping is stale</span>')
    out.append('<span>◆ __flush_tlb_one</span><span>▮ TLB flush all</span>'
               '<span><span style="color:#d62839">▲</span> fault, BUG() '
               '<span style="color:#d99a00">▲</span> WARN</span>'
               '<span><span style="color:#d62839">➊➋</span> a finding\'s events, linked in order</span>')
    out.append("</div>")
    return "".join(out)


def _event_rows(records: list[dict[str, Any]], hits: dict[int, list[int]]) -> str:
    out = []
    for i, r in enumerate(records):
        k = str(r.get("kind"))
        cls = ' class="fnd"' if i in hits else ""
        out.append(f'<tr id="ev-{i}" data-ev="{i}"{cls}><td>{_e(r.get("step"))}</td><td>{_e(r.get("cpu", ""))}</td>'
                   f'<td>{_e(r.get("context", ""))}</td><td><span class="k" style="background:'
                   f'{EVENT_COLOURS.get(k, "#777777")}"></span>{_e(k)}</td><td class="s">{_e(summarize(r))}</td></tr>')
    return "".join(out)


def _script_json(obj: Any) -> str:
    """JSON safe inside a <script> element: no '<', '>' or '&' survive literally."""
    return (json.dumps(obj, sort_keys=True).replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026"))


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
    hits: dict[int, list[int]] = {}
    for n, evs in enumerate(fevents, start=1):
        for i in evs:
            hits.setdefault(i, []).append(n)
    tl = _Timeline(model, records, hits)
    svg = tl.build(fl, fevents)
    scen = str(header.get("scenario", "trace"))
    title = title if title is not None else f"highmem report: {scen}"
    nf = len(fl)
    status = (f'<span class="fkind">{nf} finding{"s" if nf != 1 else ""}</span>' if nf
              else '<span class="clean">clean</span>')
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style><script>{_ONERROR}</script></head><body>",
        f'<header><h1>{_e(title)}</h1><span class="sub">{_e(header.get("profile", ""))} · '
        f'{model.cpus} CPU{"s" if model.cpus != 1 else ""} · {model.last} steps</span> {status}</header><main>',
        f'<section id="summary">{_summary(header, model, records, fl, fevents)}</section>',
        '<section id="timeline-section"><h2>Timeline: one lane per CPU</h2>', _legend(),
        f'<div class="scroll">{svg}</div><p class="hint">x axis: simulation step. Hover anything for a summary; '
        "click it for the event's JSON below.</p></section>",
        '<section class="bottom-wrap"><div class="bottom"><div><h2>Events</h2><div class="events" id="events">'
        '<table class="evlist"><thead><tr><th>step</th><th>CPU</th><th>context</th><th>kind</th><th>what</th>'
        f"</tr></thead><tbody>{_event_rows(records, hits)}</tbody></table></div></div>",
        '<div><h2>Details</h2><pre id="detail">Click an event, a bar or a mark to see its record here.</pre>'
        f'<p class="hint">Trace schema {_e(header.get("schema", "highmem-trace"))} version '
        f'{_e(header.get("version", 1))}.</p></div></div></section>',
        '</main><div id="tip" hidden></div>',
        f'<script type="application/json" id="trace-data">{_script_json({"events": records})}</script>',
        f"<script>{_JS}</script></body></html>\n",
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

    check_trace_format(getattr(args, "trace_format", None))
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
