"""Path-sensitive, intra-procedural analysis of one function: a set of states walked through the
structured control flow of :mod:`highmem.scan.cfg`, with the rules told of every event.

Each statement maps the set of states reaching it to the set leaving it; states that agree on
everything tracked merge, so the set stays small.  Loops run zero, one and two times, ``goto``
states wait at their label, ``return`` ends a path (the rules see it), and two budgets (states
per point, evaluation steps per function) bound the work: a function over budget keeps the
findings made so far and is counted.

The walk itself (statements, loops, switches, leaving the function) is here; the rest of the
analysis is mixed into it from the layers below: :mod:`~highmem.scan.conditions` (branches),
:mod:`~highmem.scan.expressions` (values and bindings), :mod:`~highmem.scan.calls` (maps,
unmaps, locks), on the helpers of :mod:`~highmem.scan.paths` and :mod:`~highmem.scan.values`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, NamedTuple

from highmem.scan.apis import Api, ApiTable
from highmem.scan.calls import _LOCKISH, Calls, Summary
from highmem.scan.cfg import Alt, Break, Continue, Decl, Expr, Goto, If, Label, Loop, Return, Seq, Stmt, Switch, build
from highmem.scan.conditions import _NAME_EQ, Conditions, _condition_leaves, _is_condition, _repeated_conditions
from highmem.scan.expressions import Expressions
from highmem.scan.parse import Function, declarator_name, node_text
from highmem.scan.paths import _LAST, _diverse, _exited, _last_pass_key, _mark, _trip, _unmark
from highmem.scan.rules import Context, Rule, make_rules
from highmem.scan.state import Ref, State, Work
from highmem.scan.values import Node, _call_name, _strip

# Summary lives with the calls that fill it in; it is re-exported here for the driver.
__all__ = ["analyse_function", "Summary", "MAX_STATES", "MAX_STEPS"]

#: States kept at one point of a function (past it, :func:`~highmem.scan.paths._diverse` cuts).
MAX_STATES = 64
#: Expression evaluations in one function before it is given up as over budget.
MAX_STEPS = 30000

_IDENT = re.compile(rb"[A-Za-z_]\w*")


class _Budget(Exception):
    """The function went past :data:`MAX_STEPS`."""


class _Analysis(Conditions, Expressions, Calls):
    """The walk of one function: statements, loops and switches over a set of states."""

    def __init__(self, fn: Function, table: ApiTable, ctx: Context, rules: list[Rule], summary: Summary | None):
        self.fn = fn
        self.table = table
        self.ctx = ctx
        self.rules = rules
        self.summary = summary
        self.steps = 0
        self.truncated = False
        self.pending: dict[str, list[State]] = {}
        self.seen_labels: set[str] = set()
        self.brk: list[list[State]] = []
        self.cont: list[list[State]] = []
        self.locals = set(p for p in fn.params if p)
        self.params = {p: i for i, p in enumerate(fn.params) if p}
        self._line = 0
        self.useful = _repeated_conditions(fn.body)
        self.useful_idents = {x.decode() for k in self.useful for x in _IDENT.findall(k.encode())}
        self._infos: dict[int, tuple[frozenset[str], bool, bool]] = {}
        #: For each name, the texts of the calls assigned to it anywhere in the function ("" for
        #: anything else assigned).
        self.sources: dict[str, set[str]] = {}
        #: Locals initialised with a test and never assigned again: name -> the test.
        self.defs: dict[str, Node] = {}
        assigned: dict[str, int] = {}
        self._tracked_cache: dict[Any, set[str]] = {}
        self._loops: dict[int, _LoopText] = {}
        self.param_unmaps: dict[int, str] = {}
        self.leaves: list[set[int]] = []
        stack = [fn.body]
        while stack:
            n = stack.pop()
            if n.type in ("init_declarator", "declaration") and n.type == "declaration":
                for d in n.children_by_field_name("declarator"):
                    name = declarator_name(d)
                    if name:
                        self.locals.add(name)
            if n.type in ("assignment_expression", "init_declarator"):
                lhs = n.child_by_field_name("left" if n.type == "assignment_expression" else "declarator")
                rhs = n.child_by_field_name("right" if n.type == "assignment_expression" else "value")
                name = node_text(lhs) if lhs is not None and lhs.type == "identifier" else None
                rhs = _strip(rhs) if rhs is not None else None
                if name is not None and rhs is not None:
                    self.sources.setdefault(name, set()).add(
                        node_text(rhs) if rhs.type == "call_expression" else "")
                    assigned[name] = assigned.get(name, 0) + 1
                    if n.type == "init_declarator" and _is_condition(rhs):
                        self.defs[name] = rhs
            elif n.type == "update_expression":
                arg = n.child_by_field_name("argument")
                if arg is not None:
                    assigned[node_text(arg)] = assigned.get(node_text(arg), 0) + 2
            stack.extend(n.named_children)
        # A test kept in a local (``bool unmap_src = d->src_addr && (... || unmap_dst);``) and
        # never reassigned is tested through its name: its parts are worth facts too.
        self.defs = {k: v for k, v in self.defs.items() if assigned.get(k) == 1}
        for d in self.defs.values():
            self.useful.update(_condition_leaves(d))
        self.useful_idents = {x.decode() for k in self.useful for x in _IDENT.findall(k.encode())}
        #: ``a == b`` conditions between two plain names, tested more than once.
        self.eq_keys: dict[str, list[tuple[str, str]]] = {}
        for k in self.useful:
            m = _NAME_EQ.match(k)
            if m and m[1] != m[2]:
                self.eq_keys.setdefault(m[1], []).append((k, m[2]))
                self.eq_keys.setdefault(m[2], []).append((k, m[1]))

    # ----- statements -------------------------------------------------------------------------------
    def run(self) -> None:
        body = build(self.fn.body) or Seq()
        out = self.exec(body, [State()])
        end = (self.fn.end_line, self.fn.end_col)
        for s in out:
            self.leave(Work(s), end, set())
        if self.summary is not None and self.fn.name not in self.summary.apis:
            for i, kind in sorted(self.param_unmaps.items()):
                if self.leaves and all(i in lv for lv in self.leaves):
                    self.summary.apis[self.fn.name] = Api(self.fn.name, "unmap", kind, handle=i, origin="summary")
                    break

    def _dedupe(self, states: list[State]) -> list[State]:
        out = list(dict.fromkeys(states))
        if len(out) > MAX_STATES:
            self.truncated = True
            out = _diverse(out, MAX_STATES)
        return out

    def exec(self, st: Stmt | None, states: list[State]) -> list[State]:
        if st is None:
            return states
        if isinstance(st, Label):
            self.seen_labels.add(st.name)
            states = self._dedupe(states + self.pending.pop(st.name, []))
            return self.exec(st.stmt, states)
        if not states and not (isinstance(st, Seq) and self.pending) and not isinstance(st, (Seq, Alt, If, Switch,
                                                                                               Loop)):
            return states
        if isinstance(st, Seq):
            for item in st.items:
                states = self._dedupe(self.exec(item, states))
            return states
        if isinstance(st, Expr):
            info = self._info(st.node)
            done: list[State] = []
            for s in states:
                if info[1] or (info[2] and any(m.live for m in s.maps)) or not info[0].isdisjoint(self._tracked(s)):
                    done.append(self.eval_stmt(s, st.node))
                else:
                    done.append(s)  # nothing this statement touches is tracked on this path
            return done
        if isinstance(st, Decl):
            return [self.decl(s, st.node) for s in states]
        if isinstance(st, If):
            t, f = self.branch(st.cond, states)
            return self.exec(st.then, t) + (self.exec(st.other, f) if st.other is not None else f)
        if isinstance(st, Alt):
            out: list[State] = []
            if st.key is not None and len(st.branches) == 2:
                # A configuration symbol tested again takes the side it took before on this path.
                for i, b in enumerate(st.branches):
                    holds = (i == 0) != st.neg
                    mine = [s for s in states if (st.key, not holds) not in s.facts]
                    out += self.exec(b, [State(s.maps, s.vars, s.irq_off, s.locks, s.facts | {(st.key, holds)},
                                               s.trips) for s in mine])
                return out
            for b in st.branches:
                out += self.exec(b, states)
            return out
        if isinstance(st, Loop):
            return self.loop(st, states)
        if isinstance(st, Switch):
            return self.switch(st, states)
        if isinstance(st, Return):
            for s in states:
                w = Work(s)
                returned: set[tuple[int, int]] = set()
                direct: set[tuple[int, int]] = set()
                if st.value is not None:
                    v = self.ev(st.value, w)
                    if isinstance(v, Ref):
                        returned.add(v.mid)
                        if not v.weak:
                            direct.add(v.mid)
                    returned |= self._refs_in(st.value, w)
                self.leave(w, st.node, returned, direct)
            return []
        if isinstance(st, Goto):
            if st.label in self.seen_labels:
                return []  # a backward goto (a retry): its second pass is not followed
            self.pending.setdefault(st.label, []).extend(states)
            return []
        if isinstance(st, Break):
            if self.brk:
                self.brk[-1].extend(states)
            return []
        if isinstance(st, Continue):
            if self.cont:
                self.cont[-1].extend(states)
            return []
        return states

    def _info(self, node: Node) -> tuple[frozenset[str], bool, bool]:
        """Identifiers a statement mentions; whether it names a map/unmap/lock call; whether it calls."""
        got = self._infos.get(node.id)
        if got is None:
            text = node.text
            idents = frozenset(x.decode() for x in _IDENT.findall(text))
            special = bool(self.table.pattern.search(text)) or bool(_LOCKISH.search(text)) or \
                not idents.isdisjoint(self.table.apis)
            got = (idents, special, b"(" in text)
            self._infos[node.id] = got
        return got

    def _tracked(self, s: State) -> set[str]:
        got = self._tracked_cache.get(s.vars)
        if got is None:
            got = set(self.useful_idents)
            for k, _ in s.vars:
                root = _IDENT.match(k.encode())
                got.add(root.group().decode() if root is not None else k)
            self._tracked_cache[s.vars] = got
        return got

    def loop(self, st: Loop, states: list[State]) -> list[State]:
        if st.init is not None:
            states = self.exec(st.init, states)
        self.brk.append([])
        self.cont.append([])
        out: list[State] = []
        cur = states
        text = self._loop_text(st)
        last, span, remaps = text.last, text.span, text.mapped
        if last is not None:
            self.useful.add(last)  # the pass's test of it is what the exit is decided by
        if st.min_iter == 1:
            for i in range(st.max_iter):
                self.cont[-1] = []
                if i == 1:
                    cur = [_trip(s) for s in cur]
                cur = self._dedupe(self.exec(st.body, cur) + self.cont[-1])
                t, f = self.branch(st.cond, cur) if st.cond is not None else (cur, [])
                if not st.forever:
                    out += [_exited(s, span, remaps) for s in f]
                cur = t
        else:
            for i in range(st.max_iter + 1):
                if st.cond is not None and st.cond.type == "call_expression" and st.body is not None and \
                        isinstance(st, Loop) and st.update is None and st.init is None and not st.forever:
                    # An iteration macro: evaluate its arguments, fork on "no more entries".
                    cur = [self.eval_stmt(s, st.cond.child_by_field_name("arguments")) for s in cur]
                    t, f = cur, cur
                elif st.cond is not None:
                    t, f = self.branch(st.cond, cur)
                    if last is not None:
                        t = [_unmark(x) for x in t if (_LAST, True) not in x.facts]
                        f = [_unmark(x) for x in f if (_LAST, False) not in x.facts]
                else:
                    t, f = cur, []
                if not st.forever:
                    out += [self._skipped(x, st) for x in f] if i == 0 else [_exited(x, span, remaps) for x in f]
                if i == st.max_iter:
                    break
                self.cont[-1] = []
                if i == 1:
                    t = [_trip(s) for s in t]
                cur = self._dedupe(self.exec(st.body, t) + self.cont[-1])
                if st.update is not None:
                    if last is not None:
                        cur = [_mark(x, last) for x in cur]
                    cur = [self.eval_stmt(s, st.update) for s in cur]
        self.cont.pop()
        out += self.brk.pop()
        return self._dedupe(out)

    def _skipped(self, s: State, st: Loop) -> State:
        """``s`` passing a loop that was not entered: mappings the body releases are not tracked on.

        ``while (srclen) { ... kunmap_atomic(bounce); ... }`` with ``srclen`` the length of a
        scatterlist entry: the loop that releases the mapping is skipped only for a zero-length
        entry, which the code's callers never make.  A leak of such a mapping that only the
        zero-pass path shows is therefore not reported; every path through the body still is.
        """
        if not any(m.live for m in s.maps):
            return s
        names = self._loop_text(st).released
        if not names:
            return s
        held = {v.mid for k, v in s.vars if isinstance(v, Ref) and k in names}
        if not any(m.live and not m.opaque and m.mid in held for m in s.maps):
            return s
        maps = tuple(replace(m, opaque=True) if m.live and m.mid in held else m for m in s.maps)
        return State(maps, s.vars, s.irq_off, s.locks, s.facts, s.trips)

    def _loop_text(self, st: Loop) -> _LoopText:
        """What a loop's source says, read once per loop: its lines, its last-pass fact, the
        names its unmaps release, and the (name, line) of each map call's address it assigns."""
        got = self._loops.get(id(st))
        if got is not None:
            return got
        released: set[str] = set()
        mapped: set[tuple[str, int]] = set()
        span = (0, -1)
        node = st.cond.parent if st.cond is not None else None
        if node is not None:
            span = (node.start_point[0] + 1, node.end_point[0] + 1)
            stack = [node]
            while stack:
                n = stack.pop()
                if n.type == "call_expression":
                    api = self.table.get(_call_name(n) or "")
                    args_node = n.child_by_field_name("arguments")
                    if api is not None and api.action == "unmap" and args_node is not None:
                        args = [a for a in args_node.named_children if a.type != "comment"]
                        if api.handle < len(args):
                            released.update(x.decode() for x in _IDENT.findall(args[api.handle].text))
                elif n.type == "assignment_expression":
                    lhs, rhs = n.child_by_field_name("left"), n.child_by_field_name("right")
                    if lhs is not None and rhs is not None and any(
                            (api := self.table.get(x.decode())) is not None and api.action == "map"
                            for x in _IDENT.findall(rhs.text)):
                        mapped.add((node_text(lhs), n.start_point[0] + 1))
                stack.extend(n.named_children)
        got = _LoopText(_last_pass_key(st), span, frozenset(released), frozenset(mapped))
        self._loops[id(st)] = got
        return got

    def switch(self, st: Switch, states: list[State]) -> list[State]:
        entry = [self.eval_stmt(s, st.cond) for s in states]
        self.brk.append([])
        running: list[State] = []
        has_default = False
        for is_default, body in st.cases:
            has_default |= is_default
            running = self.exec(body, self._dedupe(running + entry))
        out = running + self.brk.pop()
        if not has_default:
            out += entry
        return self._dedupe(out)

    def leave(self, w: Work, node: Node | tuple[int, int], returned: set[tuple[int, int]],
              direct: set[tuple[int, int]] = frozenset()) -> None:  # type: ignore[assignment]
        for m in list(w.maps):
            if m.mid in returned and m.live:
                w.update(m, escaped=True)
                if self.summary is not None and m.kind in ("local", "atomic", "pkmap") and m.mid in direct:
                    page = self.params.get(m.page or "")
                    self.summary.apis[self.fn.name] = Api(self.fn.name, "map", m.kind, page=page,
                                                          may_fail=True, origin="summary", lazy=m.lazy)
        if self.summary is not None:
            self.leaves.append({int(k[6:]) for k, _ in w.facts if k.startswith("\0unmap")})
        for r in self.rules:
            r.on_return(self.ctx, w, node, returned)

    def _tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _Budget


class _LoopText(NamedTuple):
    last: str | None
    span: tuple[int, int]
    released: frozenset[str]
    mapped: frozenset[tuple[str, int]]


_CALLEE = re.compile(rb"\b([A-Za-z_]\w*)\s*\(")


def analyse_function(fn: Function, path: str, table: ApiTable, irq_line: int | None = None,
                     summary: Summary | None = None) -> tuple[list[Any], str]:
    """Analyse ``fn`` of file ``path``; returns its findings and ``ok``, ``budget`` or ``truncated``.

    With ``summary``, also records in it what ``fn`` does as a helper (the driver's first pass).
    """
    ctx = Context(path, fn.name, irq_line, table=table,
                  callees=frozenset(x.decode() for x in _CALLEE.findall(fn.body.text)))
    rules = make_rules()
    a = _Analysis(fn, table, ctx, rules, summary)
    status = "ok"
    try:
        a.run()
        for r in rules:
            r.finish(ctx)
    except _Budget:
        status = "budget"
    except RecursionError:
        status = "budget"
    if status == "ok" and a.truncated:
        status = "truncated"
    return list(ctx.findings.values()), status
