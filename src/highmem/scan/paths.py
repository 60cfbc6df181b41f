"""Paths through loops and the state budget: what a state carries from one pass of a loop to the
next (the trip count, "this was the last pass", unmaps made inside a loop it left) and which
states survive when a join holds more than the budget allows.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from highmem.scan.cfg import Loop, Seq, Stmt
from highmem.scan.parse import node_text
from highmem.scan.state import Mapping, Ref, State
from highmem.scan.values import _strip

__all__ = ["_MAX_TRIPS", "_trip", "_LAST", "_last_pass_key", "_assigns", "_mark", "_unmark", "_exited", "_diverse"]

#: Second passes counted on one path; past it, an event in a later pass looks like one in the
#: pass before (so loop-carried events in deeply nested loops may be reported).
_MAX_TRIPS = 8


def _trip(s: State) -> State:
    """``s`` entering a loop body the second time: events after this are loop-carried."""
    return State(s.maps, s.vars, s.irq_off, s.locks, s.facts, min(s.trips + 1, _MAX_TRIPS))


#: A fact that stands for "this was the last pass" across a counting loop's ``i++``.
_LAST = "\0last pass"


def _last_pass_key(st: Loop) -> str | None:
    """For ``for (...; i < N; i++)``, the fact key of ``i == N - 1`` as the body would test it.

    The loop ends after a pass exactly when ``i == N - 1`` held in it (``i`` counts by one and
    nothing else in the body assigns it, which :func:`_assigns` checks): a pass that tested
    ``i != N - 1`` true goes round again, one that tested ``i == N - 1`` true leaves.
    """
    cond, upd = _strip(st.cond) if st.cond is not None else None, st.update
    if cond is None or upd is None or cond.type != "binary_expression" or \
            cond.child_by_field_name("operator").type != "<":
        return None
    var = cond.child_by_field_name("left")
    if var is None or var.type != "identifier":
        return None
    name = node_text(var)
    one_step = (upd.type == "update_expression" and node_text(upd).replace(" ", "") in (name + "++", "++" + name)) \
        or (upd.type == "assignment_expression" and node_text(upd).replace(" ", "") == name + "+=1")
    if not one_step or _assigns(st.body, name):
        return None
    return f"{name} == {node_text(cond.child_by_field_name('right'))} - 1"


def _assigns(st: Stmt | None, name: str) -> bool:
    """Whether the statement tree ``st`` assigns or steps ``name`` anywhere."""
    if st is None:
        return False
    n = re.escape(name.encode())
    pat = re.compile(rb"(?<![\w.>])" + n + rb"\s*(?:[-+*/|&^]?=(?!=)|\+\+|--)|(?:\+\+|--)\s*" + n + rb"\b|"
                     rb"(?<!&)&(?!&)\s*" + n + rb"\b")
    stack: list[Any] = [st]
    while stack:
        x = stack.pop()
        if isinstance(x, Seq):
            stack.extend(x.items)
        elif hasattr(x, "__dataclass_fields__"):
            for f in x.__dataclass_fields__:
                v = getattr(x, f)
                if isinstance(v, Stmt):
                    stack.append(v)
                elif isinstance(v, list):
                    stack.extend(i for i in v if isinstance(i, Stmt))
                    stack.extend(i[1] for i in v if isinstance(i, tuple) and len(i) == 2 and isinstance(i[1], Stmt))
                elif v is not None and hasattr(v, "text") and pat.search(v.text):
                    return True
    return False


def _mark(s: State, key: str) -> State:
    """``s`` before the ``i++`` of its counting loop: whether this was the last pass, if known."""
    facts = {f for f in s.facts if f[0] != _LAST}
    if (key, True) in s.facts:
        facts.add((_LAST, True))
    elif (key, False) in s.facts:
        facts.add((_LAST, False))
    return State(s.maps, s.vars, s.irq_off, s.locks, frozenset(facts), s.trips)


def _unmark(s: State) -> State:
    if not any(f[0] == _LAST for f in s.facts):
        return s
    return State(s.maps, s.vars, s.irq_off, s.locks, frozenset(f for f in s.facts if f[0] != _LAST), s.trips)


def _exited(s: State, span: tuple[int, int], remaps: frozenset[tuple[str, int]]) -> State:
    """``s`` leaving a loop (lines ``span``) by its test after a pass: its unmaps are marked so.

    Only a mapping the pass unmapped *and then had a chance to map again* into the same variable
    (``remaps``: the names a map is assigned to in the loop, with its line) is marked: whether
    the pointer is still used stale after the loop then depends on when the test ends the loop
    (``while (len < data_len)`` after the last fragment is unmapped and no new one is mapped),
    which the analysis does not evaluate, so such a use is not reported, as loop-carried uses
    are not.  A loop that maps at the top of each pass and unmaps at its end leaves the pointer
    stale on every exit: a use after it stays reported.
    """
    def inside(m: Mapping) -> bool:
        if m.live or m.exited or not span[0] <= m.unmap_line <= span[1]:
            return False
        names = {k for k, v in s.vars if isinstance(v, Ref) and v.mid == m.mid} | {m.name}
        return any(name in names and line > m.unmap_line for name, line in remaps)
    if not any(inside(m) for m in s.maps):
        return s
    maps = tuple(replace(m, exited=True) if inside(m) else m for m in s.maps)
    return State(maps, s.vars, s.irq_off, s.locks, s.facts, s.trips)


def _diverse(states: list[State], limit: int) -> list[State]:
    """The first ``limit`` of ``states`` taken round-robin across their distinct mapping sets.

    Paths that differ only in facts and variables far outnumber those that differ in what is
    mapped; cutting the list in its order would drop, say, the one path that still holds a mapping
    at ``goto out`` (a leak), so every distinct set of mappings keeps a representative first.
    """
    groups: dict[tuple[Mapping, ...], list[State]] = {}
    for st in states:
        groups.setdefault(st.maps, []).append(st)
    out: list[State] = []
    rank = 0
    while len(out) < limit:
        for g in groups.values():
            if rank < len(g):
                out.append(g[rank])
                if len(out) == limit:
                    break
        rank += 1
    return out
