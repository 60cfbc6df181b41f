"""Where a finding happened in its scenario's source: the file and line of each operation involved.

A finding names the steps of the events involved (the map, the clobbering map, the access).  To
turn steps into source lines, the finding's shrunk schedule is replayed once with every TOML
operation wrapped (:data:`highmem.scenarios.ops.OP_STARTS`), which tells which operation each
context was executing when each event happened; the loader's rules of layout then give the
operation's line.  Python scenarios are located at the ``def`` of the context's function.

Used by ``check --sarif``; costs one run per finding kind, never anything during exploration.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

from highmem._record import record
from highmem.events import ContextEvent
from highmem.report.window import CpuStateRecorder, why_open
from highmem.scenarios.model import ContextSpec, Scenario
from highmem.sim.findings import Finding

__all__ = ["Site", "scenario_path", "op_lines", "locate_finding", "explain_finding"]


@record(frozen=True)
class Site:
    """One place of a finding: ``step`` (None for a context's header), the context instance,
    the operation (index in reading order and a short text), the file and the 1-based line."""

    step: int | None
    context: str
    path: str
    line: int | None
    op_index: int | None = None
    op: str = ""


def scenario_path(sc: Scenario) -> str | None:
    """The file that defines ``sc`` (a built-in's file inside the package), or None."""
    src = sc.source
    if src.startswith("builtin:"):
        f = resources.files("highmem.scenarios") / "builtin" / f"{src.removeprefix('builtin:')}.toml"
        return str(f)
    target = src.partition(":")[0] if not src.endswith(".toml") else src
    if target.endswith((".toml", ".py")):
        return target
    import sys

    mod = sys.modules.get(target)
    return getattr(mod, "__file__", None) if mod is not None else None


def _table_lines(lines: list[str], kind: str) -> list[int]:
    pat = re.compile(r"^\s*\[\[\s*" + re.escape(kind) + r"\s*\]\]")
    return [i for i, line in enumerate(lines) if pat.match(line)]


def op_lines(sc: Scenario, text: str) -> dict[str, list[int | None]]:
    """Context name -> the 1-based line of each of its operations, in reading order.

    Counts ``op =`` keys within each ``[[task]]``/``[[irq]]``/``[[softirq]]`` table, which is how
    the loader numbers them in its own messages.
    """
    lines = text.splitlines()
    out: dict[str, list[int | None]] = {}
    by_kind: dict[str, list[ContextSpec]] = {}
    for c in sc.contexts:
        by_kind.setdefault(c.kind, []).append(c)
    for kind, specs in by_kind.items():
        starts = _table_lines(lines, kind)
        for k, c in enumerate(specs):
            found: list[int | None] = []
            if k < len(starts):
                for i in range(starts[k] + 1, len(lines)):
                    if re.match(r"^\s*\[", lines[i]):
                        break
                    found.extend(i + 1 for _ in re.finditer(r"\bop\s*=", lines[i]))
            out[c.name] = found
    return out


def _describe(op: dict[str, Any]) -> str:
    rest = ", ".join(f"{k}={v}" for k, v in op.items() if k not in ("op", "ops"))
    return f"{op['op']}({rest})"


def _flat_ops(ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for op in ops:
        out.append(op)
        if op.get("op") == "repeat":
            out.extend(_flat_ops(op.get("ops", [])))
    return out


def _spec_of(sc: Scenario, instance: str) -> ContextSpec | None:
    name = instance.split("#", 1)[0]
    return next((c for c in sc.contexts if c.name == name), None)


def _context_site(sc: Scenario, path: str | None, instance: str, step: int | None) -> Site | None:
    spec = _spec_of(sc, instance)
    if spec is None:
        return None
    if spec.fn is not None:
        code = getattr(spec.fn, "__code__", None)
        if code is not None:
            return Site(step, instance, code.co_filename, code.co_firstlineno)
    if path is None:
        return None
    return Site(step, instance, path, spec.line)


def locate_finding(sc: Scenario, cfg: Any, choices: list[tuple[int, str]], finding: Finding) -> list[Site]:
    """The sites of ``finding``'s steps (earliest first), found by replaying ``choices``; see
    :func:`explain_finding`, which also says why the window was open.  Any context."""
    return explain_finding(sc, cfg, choices, finding)[0]


def explain_finding(sc: Scenario, cfg: Any, choices: list[tuple[int, str]],
                    finding: Finding) -> tuple[list[Site], str | None]:
    """The sites of ``finding``'s steps (earliest first), found by replaying ``choices`` once, and
    why the window was open (:func:`highmem.report.window.why_open`), or None.

    A step no operation explains (the engine's own, e.g. a deadlock's last step) is located at the
    header of the context involved; a finding with no locatable step gets its contexts' headers.
    """
    from highmem.scenarios.ops import OP_STARTS
    from highmem.sim.explore import run_once

    path = scenario_path(sc)
    lines_of: dict[str, list[int | None]] = {}
    text_lines: list[str] = []
    if path is not None and path.endswith(".toml") and not sc.python:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError:
            text = ""
        text_lines = text.splitlines()
        lines_of = op_lines(sc, text)
    seq: list[tuple[int, str, str, int]] = []  # (step, instance, spec name, op index or -1 for an event)
    subscribed: list[Any] = []

    def starts(m: Any, spec: ContextSpec, index: int) -> None:
        if not subscribed:
            subscribed.append(m)

            def observe(ev: Any) -> None:
                seq.append((m.engine.step, getattr(ev, "context", ""), "", -1))
                if isinstance(ev, ContextEvent):
                    ctx_events.append((m.engine.step, ev))

            m.subscribe(observe)
        seq.append((m.engine.step, m.current.name, spec.name, index))

    wanted = set(finding.steps)
    ctx_events: list[tuple[int, ContextEvent]] = []
    strategy = CpuStateRecorder(choices)
    token = OP_STARTS.set(starts)
    try:
        run_once(sc, cfg, strategy)
    finally:
        OP_STARTS.reset(token)
    current: dict[str, tuple[str, int]] = {}
    event_contexts: dict[int, set[str]] = {}
    at_step: dict[int, list[tuple[str, str, int]]] = {}
    #: instance -> its operations' starts (step, spec name, index), in order.
    markers: dict[str, list[tuple[int, str, int]]] = {}
    for step, inst, spec_name, index in seq:
        if index >= 0:
            current[inst] = (spec_name, index)
            markers.setdefault(inst, []).append((step, spec_name, index))
        elif step in wanted and inst not in current:
            event_contexts.setdefault(step, set()).add(inst)
        elif step in wanted:
            spec_name, idx = current[inst]
            hits = at_step.setdefault(step, [])
            if (inst, spec_name, idx) not in hits:
                hits.append((inst, spec_name, idx))
    sites: list[Site] = []

    def op_site(step: int, inst: str, spec_name: str, idx: int) -> Site | None:
        spec = _spec_of(sc, inst)
        if path is None or spec is None:
            return None
        flat = _flat_ops(spec.ops or [])
        lines = lines_of.get(spec_name, [])
        line = lines[idx] if idx < len(lines) else spec.line
        return Site(step, inst, path, line, idx, _describe(flat[idx]) if idx < len(flat) else "")

    def device_site(step: int, inst: str) -> Site | None:
        name = inst.split("#", 1)[0]
        for k, dev in enumerate(sc.devices):
            if dev.irq == name and path is not None:
                heads = _table_lines(text_lines, "device")
                line = heads[k] + 1 if k < len(heads) else None
                return Site(step, inst, path, line, None, f"interrupt {name} of device {dev.name}")
        return None

    for step in sorted(wanted):
        hits = at_step.get(step, [])
        named = [h for h in hits if h[0] in finding.contexts]
        named.sort(key=lambda h: finding.contexts.index(h[0]))
        if not named:
            # No event of a named context at this step (the engine's own step, e.g. a deadlock's):
            # each named context was then inside its latest operation.
            for inst in finding.contexts:
                last = [mk for mk in markers.get(inst, []) if mk[0] <= step]
                if last:
                    named.append((inst, last[-1][1], last[-1][2]))
                elif step in event_contexts and inst in event_contexts[step]:
                    dev = device_site(step, inst)
                    if dev is not None and dev not in sites:
                        sites.append(dev)
        for inst, spec_name, idx in named or hits[:1]:
            site = op_site(step, inst, spec_name, idx)
            if site is not None and site not in sites:
                sites.append(site)
    if not sites:
        for inst in finding.contexts:
            site = _context_site(sc, path, inst, None)
            if site is not None and site not in sites:
                sites.append(site)
    if not sites and path is not None:
        sites.append(Site(None, "", path, None))
    return sites, why_open(finding, strategy.points, ctx_events)
