"""Path-sensitive, intra-procedural analysis of one function: a set of states walked through the
structured control flow of :mod:`highmem.scan.cfg`, with the rules told of every event.

Each statement maps the set of states reaching it to the set leaving it; states that agree on
everything tracked merge, so the set stays small.  Loops run zero, one and two times, ``goto``
states wait at their label, ``return`` ends a path (the rules see it), and two budgets (states
per point, evaluation steps per function) bound the work: a function over budget keeps the
findings made so far and is counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from highmem.scan.apis import SELF_CONTAINED, Api, ApiTable
from highmem.scan.cfg import Alt, Break, Continue, Decl, Expr, Goto, If, Label, Loop, Return, Seq, Stmt, Switch, build
from highmem.scan.parse import Function, declarator_name, node_text
from highmem.scan.rules import Context, Rule, UnmapEvent, make_rules
from highmem.scan.state import DEF, NULL, UNINIT, Mapping, Ref, State, Work

__all__ = ["analyse_function", "Summary", "MAX_STATES", "MAX_STEPS"]

Node = Any
MAX_STATES = 64
MAX_STEPS = 30000

_LOCK = re.compile(r"^(?:raw_)?(?:spin_lock|read_lock|write_lock)(?:_nested|_bh)?$"
                   r"|^preempt_disable$|^local_bh_disable$")
_LOCK_IRQ = re.compile(r"^(?:raw_)?(?:spin_lock|read_lock|write_lock)_irq(?:save)?(?:_nested)?$")
_UNLOCK = re.compile(r"^(?:raw_)?(?:spin_unlock|read_unlock|write_unlock)(?:_bh)?$|^preempt_enable(?:_no_resched)?$"
                     r"|^local_bh_enable$")
_UNLOCK_IRQ = re.compile(r"^(?:raw_)?(?:spin_unlock|read_unlock|write_unlock)_irq(?:restore)?$")
_IRQ_OFF = re.compile(r"^(?:local_irq_disable|local_irq_save|raw_local_irq_save|raw_local_irq_disable|__cli|cli|"
                     r"__save_and_cli|save_and_cli|local_irq_save_nort)$")
_IRQ_ON = re.compile(r"^(?:local_irq_enable|local_irq_restore|raw_local_irq_restore|raw_local_irq_enable|__sti|sti|"
                     r"__restore_flags|restore_flags)$")
_IDENT = re.compile(rb"[A-Za-z_]\w*")
_LOCKISH = re.compile(rb"\b(?:raw_)?(?:spin_|read_|write_)(?:un)?lock|preempt_(?:dis|en)able|local_irq_|local_bh_|"
                      rb"\b_*(?:cli|sti|restore_flags|save_and_cli)\b")
#: Calls that test or convert the pointer's value and never load through it (include/linux/err.h):
#: a stale address handed to them after its unmap is not a use of the mapping.
_POINTER_VALUE = frozenset({"IS_ERR", "IS_ERR_OR_NULL", "PTR_ERR", "PTR_ERR_OR_ZERO", "ERR_CAST"})
#: Calls that read or write through an address and keep nothing: passing a mapping to them is not
#: handing it over (so a leak after them is still this function's).
_CONSUMER = re.compile(r"^(?:mem\w*|str\w*|__?mem\w*|crc\w*|csum\w*|flush_dcache_\w*|copy_\w+|print\w*|pr_\w+|"
                       r"dev_(?:err|warn|info|dbg)\w*|WARN\w*|BUG_ON|le\d+_to_cpu\w*|be\d+_to_cpu\w*|"
                       r"cpu_to_[lb]e\d+\w*|get_unaligned\w*|put_unaligned\w*|min|max|min_t|max_t|clamp\w*|"
                       r"test_bit|set_bit|clear_bit|__test_and_\w+|find_\w+_bit|bitmap_\w+|hex_dump\w*|"
                       r"print_hex_dump\w*|kmemdup|kstrndup|sha\d+\w*|md5\w*|xxh\w*|ptep_get\w*|pte_\w+)$")
_NULLS = {"NULL", "0", "false", "nullptr"}


class _Budget(Exception):
    pass


@dataclass
class Summary:
    """What a static helper does to mappings, as seen by its callers (one level deep)."""

    apis: dict[str, Api] = field(default_factory=dict)
    may_unmap: dict[str, set[int]] = field(default_factory=dict)


def _strip(node: Node) -> Node:
    while node is not None and node.type in ("parenthesized_expression", "cast_expression"):
        inner = node.child_by_field_name("value") if node.type == "cast_expression" else \
            (node.named_children[0] if node.named_children else None)
        if inner is None or inner.type == "compound_statement":
            return node
        node = inner
    return node


def _key(node: Node) -> str | None:
    """The name an lvalue is tracked by: ``addr``, ``s->addr``, ``walk`` for ``&walk``; None if not an lvalue."""
    node = _strip(node)
    if node is None:
        return None
    if node.type == "pointer_expression" and node.child(0).type == "&":
        return _key(node.child_by_field_name("argument"))
    if node.type in ("identifier", "field_expression"):
        return node_text(node)
    return None


#: Second passes counted on one path; past it, an event in a later pass looks like one in the
#: pass before (so loop-carried events in deeply nested loops may be reported).
_MAX_TRIPS = 8


def _trip(s: State) -> State:
    """``s`` entering a loop body the second time: events after this are loop-carried."""
    return State(s.maps, s.vars, s.irq_off, s.locks, s.facts, min(s.trips + 1, _MAX_TRIPS))


def _cond_strip(node: Node | None) -> Node | None:
    while True:
        node = _strip(node)
        if node is not None and node.type == "update_expression":
            # tree-sitter-c reads `!p++` as `(!p)++`; either way the test is on p's old value.
            node = node.child_by_field_name("argument")
            continue
        if node is not None and node.type == "call_expression" and _call_name(node) in ("likely", "unlikely",
                                                                                          "WARN_ON", "WARN_ON_ONCE"):
            args = node.child_by_field_name("arguments").named_children
            if len(args) == 1:
                node = args[0]
                continue
        return node


def _call_name(node: Node) -> str | None:
    fn = node.child_by_field_name("function")
    return fn.text.decode() if fn is not None and fn.type == "identifier" else None


def _value_of(node: Node, w: Work) -> Any:
    node = _strip(node)
    if node is None:
        return None
    if node.type in ("null",) or node.text == b"NULL":
        return NULL
    if node.type == "assignment_expression":
        return _value_of(node.child_by_field_name("left"), w)
    if node.type == "update_expression":
        return _value_of(node.child_by_field_name("argument"), w)
    k = _key(node)
    return w.vars.get(k) if k else None


def _null_test(node: Node) -> tuple[Node, bool] | None:
    """For ``x == NULL`` / ``x != NULL``: ``(x, truth means non-NULL)``."""
    op = node.child_by_field_name("operator").type
    if op not in ("==", "!="):
        return None
    lhs, rhs = node.child_by_field_name("left"), node.child_by_field_name("right")
    if rhs is not None and node_text(rhs) in _NULLS:
        return lhs, op == "!="
    if lhs is not None and node_text(lhs) in _NULLS:
        return rhs, op == "!="
    return None


_VAR_INDEX = re.compile(r"^[A-Za-z_]\w*\[[^\]]*[A-Za-z_][^\]]*\]$")
_NAME_EQ = re.compile(r"^([A-Za-z_]\w*) == ([A-Za-z_]\w*)$")
_VALUE_NODES = ("identifier", "field_expression", "parenthesized_expression", "cast_expression", "update_expression",
                "assignment_expression")
_NEGATED = {"!=": "==", ">=": "<", ">": "<="}


def _call_key(name: str, node: Node) -> str:
    args = node.child_by_field_name("arguments")
    parts = [node_text(a) for a in args.named_children if a.type != "comment"] if args is not None else []
    return f"{name}({', '.join(parts)})"


#: Flag setters and the test each one settles: (pattern of the setter, test's name, truth).
#: ``zram_set_flag(z, i, F)`` makes a later ``zram_test_flag(z, i, F)`` true on that path.
_SETTERS = (
    (re.compile(r"^(\w+)_set_flag$"), r"\1_test_flag", True),
    (re.compile(r"^(\w+)_clear_flag$"), r"\1_test_flag", False),
    (re.compile(r"^(__)?set_bit$"), "test_bit", True),
    (re.compile(r"^(__)?clear_bit$"), "test_bit", False),
    (re.compile(r"^(__)?SetPage(\w+)$"), r"Page\2", True),
    (re.compile(r"^(__)?ClearPage(\w+)$"), r"Page\2", False),
    (re.compile(r"^set_buffer_(\w+)$"), r"buffer_\1", True),
    (re.compile(r"^clear_buffer_(\w+)$"), r"buffer_\1", False),
)


def _setter_fact(node: Node) -> tuple[str, bool] | None:
    """The test a flag-setting call settles on its path, as a fact key and its truth, or None."""
    name = _call_name(node)
    if name is None:
        return None
    for pat, test, truth in _SETTERS:
        if pat.match(name):
            return _call_key(pat.sub(test, name), node), truth
    return None


def _fact_key(node: Node) -> tuple[str, bool]:
    """A condition's text in a normal form, and whether the form is its negation (``a != b`` is not ``a == b``)."""
    if node.type == "call_expression":
        name = _call_name(node)
        if name is not None:
            return _call_key(name, node), False
    if node.type == "binary_expression":
        op = node.child_by_field_name("operator").type
        null_side = _null_test(node)
        if null_side is not None:
            # ``x == 0`` is ``!x`` and ``x != 0`` is ``x``: one fact, whichever way it is written.
            return _fact_key(_cond_strip(null_side[0]) or null_side[0])[0], not null_side[1]
        if op in _NEGATED:
            return (f"{node_text(node.child_by_field_name('left'))} {_NEGATED[op]} "
                    f"{node_text(node.child_by_field_name('right'))}", True)
        if op in ("==", "<", "<="):
            return (f"{node_text(node.child_by_field_name('left'))} {op} "
                    f"{node_text(node.child_by_field_name('right'))}", False)
    return node_text(node), False


def _condition_leaves(c: Node | None) -> list[str]:
    """The fact keys of the tests a condition is built of (through ``!``, ``&&``, ``||``)."""
    c = _cond_strip(c)
    if c is None:
        return []
    if c.type == "unary_expression" and c.child(0).type == "!":
        return _condition_leaves(c.child_by_field_name("argument"))
    if c.type == "binary_expression" and c.child_by_field_name("operator").type in ("&&", "||"):
        return _condition_leaves(c.child_by_field_name("left")) + _condition_leaves(c.child_by_field_name("right"))
    null_side = _null_test(c) if c.type == "binary_expression" else None
    if null_side is not None:
        return _condition_leaves(null_side[0])
    return [_fact_key(c)[0]]


_BOOL_OPS = ("&&", "||", "==", "!=", "<", "<=", ">", ">=")


def _is_condition(node: Node | None) -> bool:
    """Whether an initializer is a test (``a && (b || c)``, ``x != y``, ``!p``) rather than a value."""
    node = _strip(node) if node is not None else None
    if node is None:
        return False
    if node.type == "unary_expression" and node.child(0).type == "!":
        return True
    return node.type == "binary_expression" and node.child_by_field_name("operator").type in _BOOL_OPS


def _repeated_conditions(body: Node) -> set[str]:
    """Condition keys that occur at least twice in ``body``: the only facts worth keeping on a path
    (a fact tested once cannot correlate two branches, and keeping it splits states for nothing)."""
    seen: dict[str, int] = {}
    stack = [body]

    def add(c: Node | None) -> None:
        for key in _condition_leaves(c):
            seen[key] = seen.get(key, 0) + 1

    copies: list[tuple[str, str]] = []
    consts: list[tuple[str, str]] = []
    while stack:
        n = stack.pop()
        if n.type in ("if_statement", "while_statement", "do_statement", "for_statement", "conditional_expression"):
            add(n.child_by_field_name("condition"))
        elif n.type == "call_expression" and (fact := _setter_fact(n)) is not None:
            # A setter counts as one test of its flag: set once, tested once, and the two correlate.
            seen[fact[0]] = seen.get(fact[0], 0) + 1
        elif n.type in ("assignment_expression", "init_declarator"):
            lhs = n.child_by_field_name("left") or n.child_by_field_name("declarator")
            rhs = n.child_by_field_name("right") or n.child_by_field_name("value")
            if lhs is not None and rhs is not None and _strip(rhs) is not None and _strip(rhs).type == "identifier":
                copies.append((declarator_name(lhs) or node_text(lhs), node_text(_strip(rhs))))
            if lhs is not None and rhs is not None and _strip(rhs) is not None and \
                    node_text(_strip(rhs)) in ("0", "1", "true", "false", "NULL"):
                consts.append((declarator_name(lhs) or node_text(lhs), ""))
        stack.extend(n.named_children)
    useful = {k for k, c in seen.items() if c >= 2}
    # A flag set to a constant and tested (`mapped = true; ... if (mapped) kunmap_local(p)`).
    useful |= {dst for dst, src in consts if dst in seen}
    # `x = y` where x is tested twice: y's test once is what x's tests correlate with.
    useful |= {src for dst, src in copies if dst in useful and src in seen}
    return useful


def _impure(node: Node) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type in ("assignment_expression", "update_expression"):
            return True
        stack.extend(n.named_children)
    return False


def _root(node: Node) -> str | None:
    node = _strip(node)
    while node is not None and node.type in ("field_expression", "subscript_expression", "pointer_expression"):
        node = _strip(node.child_by_field_name("argument"))
    return node_text(node) if node is not None and node.type == "identifier" else None


class _Analysis:
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
        self._released: dict[int, frozenset[str]] = {}
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
        last = _last_pass_key(st)
        if last is not None:
            self.useful.add(last)  # the pass's test of it is what the exit is decided by
        span = (0, -1)
        if st.cond is not None and st.cond.parent is not None:
            span = (st.cond.parent.start_point[0] + 1, st.cond.parent.end_point[0] + 1)
        if st.min_iter == 1:
            for i in range(st.max_iter):
                self.cont[-1] = []
                if i == 1:
                    cur = [_trip(s) for s in cur]
                cur = self._dedupe(self.exec(st.body, cur) + self.cont[-1])
                t, f = self.branch(st.cond, cur) if st.cond is not None else (cur, [])
                if not st.forever:
                    out += [_exited(s, span) for s in f]
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
                    out += [self._skipped(x, st) for x in f] if i == 0 else [_exited(x, span) for x in f]
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
        loop_node = st.cond.parent if st.cond is not None else None
        if loop_node is None or not any(m.live for m in s.maps):
            return s
        names = self._released_in(loop_node)
        if not names:
            return s
        held = {v.mid for k, v in s.vars if isinstance(v, Ref) and k in names}
        if not any(m.live and not m.opaque and m.mid in held for m in s.maps):
            return s
        maps = tuple(replace(m, opaque=True) if m.live and m.mid in held else m for m in s.maps)
        return State(maps, s.vars, s.irq_off, s.locks, s.facts, s.trips)

    def _released_in(self, node: Node) -> frozenset[str]:
        """Names passed to an unmap call anywhere in ``node`` (cached per node)."""
        got = self._released.get(node.id)
        if got is None:
            names: set[str] = set()
            stack = [node]
            while stack:
                n = stack.pop()
                if n.type == "call_expression":
                    api = self.table.get(_call_name(n) or "")
                    args_node = n.child_by_field_name("arguments")
                    if api is not None and api.action == "unmap" and args_node is not None:
                        args = [a for a in args_node.named_children if a.type != "comment"]
                        if api.handle < len(args):
                            names.update(x.decode() for x in _IDENT.findall(args[api.handle].text))
                stack.extend(n.named_children)
            got = frozenset(names)
            self._released[node.id] = got
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

    # ----- conditions -------------------------------------------------------------------------------
    def branch(self, cond: Node | None, states: list[State]) -> tuple[list[State], list[State]]:
        if cond is None:
            return states, []
        t_out: list[State] = []
        f_out: list[State] = []
        for s in states:
            w = Work(s)
            self.ev(cond, w)
            s2 = w.freeze()
            truth = self._decide(cond, w)
            if truth is True:
                t_out.append(s2)
            elif truth is False:
                f_out.append(s2)
            else:
                t_out += self._assume_split(cond, s2, True)
                f_out += self._assume_split(cond, s2, False)
        return t_out, f_out

    def _assume_split(self, cond: Node, s: State, truth: bool) -> list[State]:
        """``s`` with ``cond`` assumed ``truth``; a false ``A && B`` (a true ``A || B``) with
        neither side settled is two paths: ``!A``, and ``A && !B`` (``A``, and ``!A && B``)."""
        c = _cond_strip(cond)
        if c is not None and c.type == "binary_expression":
            op = c.child_by_field_name("operator").type
            if (op == "&&" and not truth) or (op == "||" and truth):
                left, right = c.child_by_field_name("left"), c.child_by_field_name("right")
                w0 = Work(s)
                if self._decide(left, w0) is None and self._decide(right, w0) is None \
                        and not _impure(left) and not _impure(right):
                    first, second = Work(s), Work(s)
                    self._assume(left, first, truth)
                    self._assume(left, second, not truth)
                    self._assume(right, second, truth)
                    return [first.freeze(), second.freeze()]
        w = Work(s)
        self._assume(cond, w, truth)
        return [w.freeze()]

    def _decide(self, node: Node | None, w: Work) -> bool | None:
        """The value of condition ``node`` on this path, if the state or the path's facts fix it."""
        node = _cond_strip(node)
        if node is None:
            return None
        t = node.type
        if t == "unary_expression" and node.child(0).type == "!":
            r = self._decide(node.child_by_field_name("argument"), w)
            return None if r is None else not r
        if t == "number_literal":
            return node.text not in (b"0", b"0x0", b"0U")
        if t in ("true", "false"):
            return t == "true"
        if t == "binary_expression":
            op = node.child_by_field_name("operator").type
            if op in ("&&", "||"):
                a = self._decide(node.child_by_field_name("left"), w)
                b = self._decide(node.child_by_field_name("right"), w)
                if op == "&&":
                    return False if (a is False or b is False) else True if (a and b) else None
                return True if (a is True or b is True) else False if (a is False and b is False) else None
            null_side = _null_test(node)
            if null_side is not None:
                r = self._truth_of_value(null_side[0], w)
                if r is not None:
                    return r if null_side[1] else not r
            if op in ("==", "!=") and self._mapping_vs_object(node, w):
                return op == "!="
        if t == "call_expression" and _call_name(node) in ("IS_ERR", "IS_ERR_OR_NULL"):
            args = node.child_by_field_name("arguments").named_children
            if args:
                v = _value_of(args[0], w)
                if v in (NULL, UNINIT):
                    return _call_name(node) == "IS_ERR_OR_NULL"
                if isinstance(v, Ref) and not v.weak:
                    m = w.find(v.mid)
                    if m is not None and not m.may_fail:
                        return False
        if t in _VALUE_NODES:
            r = self._truth_of_value(node, w)
            if r is not None:
                return r
        if (d := self._definition(node, w)) is not None:
            return self._decide(d, w)
        key, neg = _fact_key(node)
        if (key, True) in w.facts:
            return not neg
        if (key, False) in w.facts:
            return neg
        return None

    def _mapping_vs_object(self, node: Node, w: Work) -> bool:
        """Whether ``a == b`` compares a mapping's address with the address of a named object.

        A kmap address lies in the pkmap or fixmap window (or is a lowmem page's own address), never
        at a static buffer or a variable, so ``next_out != sink_page`` holds whenever ``next_out``
        is a mapping; the false side of that test is not a path.
        """
        lhs, rhs = node.child_by_field_name("left"), node.child_by_field_name("right")
        if lhs is None or rhs is None:
            return False
        for a, b in ((lhs, rhs), (rhs, lhs)):
            v = _value_of(a, w)
            if isinstance(v, Ref) and not v.weak and w.find(v.mid) is not None and self._object_address(b):
                return True
        return False

    def _object_address(self, node: Node) -> bool:
        """``&name``, or a file-scope name (an array such as ``sink_page``), as opposed to a value."""
        node = _strip(node)
        if node is None:
            return False
        if node.type == "pointer_expression" and node.child(0).type == "&":
            arg = _strip(node.child_by_field_name("argument"))
            return arg is not None and arg.type == "identifier"
        if node.type == "identifier":
            name = node_text(node)
            # A file-scope pointer could hold this very mapping only if this function stored it
            # there, and a stored mapping has escaped (it is never a leak) anyway.
            return name not in self.locals and not name.isupper()
        return False

    def _definition(self, node: Node, w: Work) -> Node | None:
        """The test a local was initialised with, while nothing it reads has changed on this path."""
        if node.type != "identifier":
            return None
        name = node_text(node)
        d = self.defs.get(name)
        v = w.vars.get(name)
        return d if d is not None and isinstance(v, str) and v.startswith(DEF) else None

    def _truth_of_value(self, node: Node, w: Work) -> bool | None:
        v = _value_of(node, w)
        if isinstance(v, Ref) and not v.weak:
            m = w.find(v.mid)
            return None if (m is not None and m.may_fail) else True
        if v in (NULL, UNINIT):
            return False
        return None

    def _assume(self, node: Node | None, w: Work, truth: bool) -> None:
        """Record on this path that condition ``node`` had value ``truth``."""
        node = _cond_strip(node)
        if node is None:
            return
        t = node.type
        if t == "unary_expression" and node.child(0).type == "!":
            self._assume(node.child_by_field_name("argument"), w, not truth)
            return
        if (d := self._definition(node, w)) is not None:
            self._assume(d, w, truth)
            return
        if t == "binary_expression":
            op = node.child_by_field_name("operator").type
            if (op == "&&" and truth) or (op == "||" and not truth):
                self._assume(node.child_by_field_name("left"), w, truth)
                self._assume(node.child_by_field_name("right"), w, truth)
            elif op in ("&&", "||"):
                # One side already settled to the value that does not decide the whole: the
                # other side is what made it true (||) or false (&&).
                left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
                neutral = op == "&&"
                if self._decide(left, w) is neutral:
                    self._assume(right, w, truth)
                elif self._decide(right, w) is neutral:
                    self._assume(left, w, truth)
            null_side = _null_test(node)
            if null_side is not None:
                self._assume_value(null_side[0], w, truth == null_side[1])
        elif t == "call_expression" and _call_name(node) in ("IS_ERR", "IS_ERR_OR_NULL"):
            args = node.child_by_field_name("arguments").named_children
            if args:
                self._assume_value(args[0], w, not truth)
        elif t in _VALUE_NODES:
            self._assume_value(node, w, truth)
        if not _impure(node):
            key, neg = _fact_key(node)
            if key in self.useful:
                w.facts.add((key, truth != neg))

    def _assume_value(self, node: Node, w: Work, nonnull: bool) -> None:
        v = _value_of(node, w)
        if isinstance(v, Ref) and not v.weak:
            m = w.find(v.mid)
            if m is not None and m.may_fail:
                if nonnull:
                    w.update(m, may_fail=False)
                else:
                    w.drop(m)  # the map failed: nothing to release on this side

    # ----- expressions ------------------------------------------------------------------------------
    def eval_stmt(self, s: State, node: Node | None) -> State:
        if node is None:
            return s
        w = Work(s)
        self.ev(node, w)
        return w.freeze()


    def decl(self, s: State, node: Node) -> State:
        w = Work(s)
        for d in node.children_by_field_name("declarator"):
            if d.type == "init_declarator":
                name = declarator_name(d.child_by_field_name("declarator"))
                value = d.child_by_field_name("value")
                v = self.ev(value, w) if value is not None else None
                if name:
                    self._bind(w, name, v, value, d)
            else:
                name = declarator_name(d)
                if name and d.type == "pointer_declarator":
                    w.vars[name] = UNINIT
                    w.forget_facts(name)
        return w.freeze()

    def _repoint(self, w: Work, key: str) -> None:
        """``key`` now holds another value: a mapping made of the page it held is no longer named by it."""
        for m in list(w.maps):
            if m.page == key:
                w.update(m, page=f"{key} (before line {self._line})")

    def _bind(self, w: Work, name: str, v: Any, value: Node | None, node: Node) -> None:
        self._line = node.start_point[0] + 1
        self._repoint(w, name)
        w.forget_facts(name)
        if isinstance(v, (Ref, str)):
            w.vars[name] = v
            if isinstance(v, Ref):
                m = w.find(v.mid)
                if m is not None and not m.name:
                    w.update(m, name=name)
        else:
            w.vars.pop(name, None)
        if value is not None:
            self._pointer_facts(w, name, value)
            if self.defs.get(name) is not None and _strip(value) is not None and \
                    _strip(value).id == self.defs[name].id:
                w.vars[name] = DEF + node_text(value)
            if name not in self.useful:
                return
            src = _key(value)
            if src:
                w.facts |= {(name, b) for k, b in w.facts if k == src}
            t = node_text(_strip(value))
            if t in ("0", "false", "NULL"):
                w.facts.add((name, False))
            elif t in ("1", "true"):
                w.facts.add((name, True))

    def _pointer_facts(self, w: Work, name: str, value: Node) -> None:
        """What ``name = value`` settles about a tested ``name == other``.

        A copy of ``other`` equals it.  The result of a lookup equals ``other`` when ``other`` only
        ever holds that same lookup; when every value of ``other`` comes from the same function
        called with other arguments (``page0 = find_or_create_page(m, 0, gfp)`` against
        ``page = find_or_create_page(m, index, gfp)``), the two are taken to be distinct objects,
        the assumption the code's own ``if (page != page0) kunmap(page)`` makes.
        """
        src = _strip(value)
        if src is None:
            return
        for key, other in self.eq_keys.get(name, ()):
            if src.type == "identifier" and node_text(src) == other:
                w.facts.add((key, True))
            elif src.type == "call_expression" and (fn := _call_name(src)) is not None:
                theirs = self.sources.get(other, set())
                text = node_text(src)
                if theirs and all(t.startswith(fn + "(") and t != text for t in theirs):
                    w.facts.add((key, False))

    def _tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _Budget

    def _refs_in(self, node: Node, w: Work) -> set[tuple[int, int]]:
        """Mappings a returned expression mentions anywhere (``return addr + off``, ``return page``)."""
        out: set[tuple[int, int]] = set()
        stack = [node]
        while stack:
            n = stack.pop()
            if n.type in ("identifier", "field_expression"):
                v = w.vars.get(node_text(n))
                if isinstance(v, Ref):
                    out.add(v.mid)
                for m in w.maps:
                    if m.page == node_text(n):
                        out.add(m.mid)
            stack.extend(n.named_children)
        return out

    def _nonnull(self, w: Work, base: Node | None) -> None:
        """``base`` was just dereferenced: on this path it is not NULL (or the kernel has oopsed)."""
        base = _strip(base)
        if base is not None and base.type == "identifier":
            name = base.text.decode()
            if name in self.useful:
                w.facts.discard((name, False))
                w.facts.add((name, True))

    def _deref(self, w: Work, v: Any, node: Node, how: str = "dereferences") -> None:
        arg = node.child_by_field_name("argument") if how == "dereferences" else None
        if arg is not None:
            self._nonnull(w, arg)
        if isinstance(v, Ref) and not v.weak:
            m = w.find(v.mid)
            if m is not None and not m.live:
                for r in self.rules:
                    r.on_use(self.ctx, w, m, node, how)

    def ev(self, n: Node | None, w: Work) -> Any:
        if n is None:
            return None
        self._tick()
        t = n.type
        if t == "identifier":
            name = n.text.decode()
            if name in ("NULL",):
                return NULL
            return w.vars.get(name)
        if t == "null":
            return NULL
        if t == "number_literal":
            return NULL if n.text in (b"0",) else None
        if t == "parenthesized_expression":
            inner = n.named_children[0] if n.named_children else None
            if inner is not None and inner.type == "compound_statement":
                out = self.exec(build(inner), [w.freeze()])
                if out:
                    w.__init__(out[0])  # type: ignore[misc]
                return None
            return self.ev(inner, w)
        if t == "cast_expression":
            v = self.ev(n.child_by_field_name("value"), w)
            ty = n.child_by_field_name("type")
            if isinstance(v, Ref) and ty is not None and node_text(ty).strip() == "void":
                # A map cast to (void) is discarded on purpose (2.6's shmem maps KM_USER1 so that a
                # later, shared unmap balances): its unmap lives elsewhere, so it is no leak.
                m = w.find(v.mid)
                if m is not None and m.live:
                    w.update(m, escaped=True)
                return None
            return v
        if t == "pointer_expression":
            arg = n.child_by_field_name("argument")
            if n.child(0).type == "*":
                v = self.ev(arg, w)
                self._deref(w, v, n)
                return None
            a = _strip(arg)
            if a is not None and a.type == "subscript_expression":
                v = self.ev(a.child_by_field_name("argument"), w)
                self.ev(a.child_by_field_name("index"), w)
                return Ref(v.mid, True, v.weak) if isinstance(v, Ref) else None
            if a is not None and a.type == "field_expression":
                self.ev(a.child_by_field_name("argument"), w)
            return None
        if t == "subscript_expression":
            v = self.ev(n.child_by_field_name("argument"), w)
            self.ev(n.child_by_field_name("index"), w)
            self._deref(w, v, n)
            return None
        if t == "field_expression":
            key = node_text(n)
            base = n.child_by_field_name("argument")
            v = self.ev(base, w)
            op = n.child_by_field_name("operator")
            if op is not None and op.type == "->":
                self._deref(w, v, n)
            return w.vars.get(key)
        if t == "binary_expression":
            left = self.ev(n.child_by_field_name("left"), w)
            right = self.ev(n.child_by_field_name("right"), w)
            op = n.child_by_field_name("operator")
            if op is not None and op.type in ("|", "^", "&"):
                for side in (left, right):
                    if isinstance(side, Ref):
                        return Ref(side.mid, True, weak=True)  # tagged pointers: (unsigned long)addr | FLAG
            if op is not None and op.type in ("+", "-"):
                if isinstance(left, Ref):
                    return Ref(left.mid, True, left.weak)
                if isinstance(right, Ref) and op.type == "+":
                    return Ref(right.mid, True, right.weak)
            return None
        if t == "update_expression":
            arg = n.child_by_field_name("argument")
            v = self.ev(arg, w)
            k = _key(arg) if arg is not None else None
            if k is not None:
                # ``i++`` leaves ``i`` neither 0 nor what the path knew of it; a pointer stepped
                # through a mapping still points into it.
                cur = w.vars.get(k)
                if isinstance(cur, Ref):
                    w.vars[k] = Ref(cur.mid, True, cur.weak)
                elif cur is not None:
                    del w.vars[k]
                w.forget_facts(k)
            return v
        if t == "assignment_expression":
            return self.assign(n, w)
        if t == "call_expression":
            return self.call(n, w)
        if t == "conditional_expression":
            self.ev(n.child_by_field_name("condition"), w)
            a = self.ev(n.child_by_field_name("consequence"), w)
            b = self.ev(n.child_by_field_name("alternative"), w)
            for x, y in ((a, b), (b, a)):
                m = w.find(x.mid) if isinstance(x, Ref) else None
                if m is not None and not isinstance(y, Ref):
                    w.update(m, opaque=True)  # mapped on one arm only: whether it exists is not tracked
            return a if isinstance(a, Ref) else b if isinstance(b, Ref) else None
        if t == "comma_expression":
            self.ev(n.child_by_field_name("left"), w)
            return self.ev(n.child_by_field_name("right"), w)
        if t in ("sizeof_expression", "alignof_expression", "offsetof_expression", "string_literal",
                 "char_literal", "true", "false", "concatenated_string", "gnu_asm_expression", "type_descriptor"):
            return None
        for c in n.named_children:
            self.ev(c, w)
        return None

    def assign(self, n: Node, w: Work) -> Any:
        lhs = n.child_by_field_name("left")
        rhs = n.child_by_field_name("right")
        op = n.child_by_field_name("operator")
        v = self.ev(rhs, w)
        key = _key(lhs)
        if op is not None and op.type in ("+=", "-="):
            cur = w.vars.get(key) if key else None
            v = Ref(cur.mid, True, cur.weak) if isinstance(cur, Ref) else None
        elif op is not None and op.type != "=":
            v = None
        target = _strip(lhs)
        if target is None:
            return v
        if target.type == "identifier":
            name = node_text(target)
            self._bind(w, name, v, rhs if op is not None and op.type == "=" else None, n)
            if name not in self.locals and isinstance(v, Ref):
                self._store(w, v, name, n)
            return v
        if target.type == "field_expression":
            base = target.child_by_field_name("argument")
            bv = self.ev(base, w)
            fop = target.child_by_field_name("operator")
            if fop is not None and fop.type == "->":
                self._deref(w, bv, target)
            assert key is not None
            self._line = n.start_point[0] + 1
            self._repoint(w, key)
            w.forget_facts(key)
            root = _root(target)
            if isinstance(v, Ref):
                w.vars[key] = v
                m = w.find(v.mid)
                if m is not None and "[" in key and root in self.locals and root not in self.params:
                    w.update(m, opaque=True)  # one of an array of mappings: which one is released is not tracked
                    return v
                if m is not None and not m.name:
                    w.update(m, name=key)
                if "->" in key or root not in self.locals:
                    self._store(w, v, key, n)
            else:
                w.vars.pop(key, None)
            return v
        if target.type in ("subscript_expression", "pointer_expression"):
            bv = self.ev(target.child_by_field_name("argument"), w)
            if target.type == "subscript_expression":
                self.ev(target.child_by_field_name("index"), w)
            self._deref(w, bv, target)
            if isinstance(v, Ref):
                m = w.find(v.mid)
                root = _root(target)
                if m is not None and target.type == "subscript_expression" and root in self.locals \
                        and root not in self.params:
                    w.update(m, opaque=True)
                else:
                    self._store(w, v, node_text(target), n)
            return v
        self.ev(target, w)
        return v

    def _store(self, w: Work, v: Ref, where: str, node: Node) -> None:
        m = w.find(v.mid)
        if m is None or not m.live:
            return
        m = w.update(m, escaped=True)
        if v.weak:
            return
        for r in self.rules:
            r.on_store(self.ctx, w, m, where, node)

    # ----- calls ------------------------------------------------------------------------------------
    def call(self, n: Node, w: Work) -> Any:
        fn = n.child_by_field_name("function")
        args_node = n.child_by_field_name("arguments")
        args = [a for a in args_node.named_children if a.type != "comment"] if args_node is not None else []
        name = fn.text.decode() if fn is not None and fn.type == "identifier" else None
        if name is None:
            self.ev(fn, w)
        api = self.table.get(name) if name else None
        if api is not None and api.nargs is not None and api.nargs != len(args):
            api = None  # a function of that name with another signature (another kernel generation)
        vals = [self.ev(a, w) for a in args]
        if api is None and name is not None:
            fact = _setter_fact(n)
            if fact is not None and fact[0] in self.useful:
                w.facts.discard((fact[0], not fact[1]))
                w.facts.add(fact)
        if api is None:
            handoff = self.table.may_unmap.get(name or "", set())
            for i, (a, v) in enumerate(zip(args, vals, strict=True)):
                held = w.find(v.mid) if isinstance(v, Ref) and i in handoff else None
                if held is not None:
                    w.update(held, opaque=True)  # the helper unmaps it on some paths only
                    continue
                if isinstance(v, Ref) and not v.weak:
                    m = w.find(v.mid)
                    if m is not None and not m.live:
                        if name not in _POINTER_VALUE:
                            self._deref(w, v, a, "passes")
                    elif m is not None and not _CONSUMER.match(name or ""):
                        w.update(m, passed=True)
                holder = _key(a)
                if holder and not _CONSUMER.match(name or ""):
                    # A structure handed to a callee takes the mappings stored in its fields along.
                    for key, hv in list(w.vars.items()):
                        if isinstance(hv, Ref) and key.startswith((holder + ".", holder + "->")):
                            held_m = w.find(hv.mid)
                            if held_m is not None and held_m.live:
                                w.update(held_m, passed=True)
                k = _key(a) if _strip(a) is not None and _strip(a).type == "pointer_expression" else None
                if k is not None:
                    w.forget_facts(k)
                    if w.vars.get(k) in (NULL, UNINIT):
                        del w.vars[k]
            if name is not None and name not in SELF_CONTAINED:
                self._locking(name, w)
                for r in self.rules:
                    r.on_call(self.ctx, w, name, n)
            for v in vals:
                if isinstance(v, Ref) and (m := w.find(v.mid)) is not None and m.live:
                    return Ref(v.mid, True, weak=True)
            return None
        if api.action == "map":
            return self._map(api, n, args, w)
        self._unmap(api, n, args, vals, w)
        return None

    def _locking(self, name: str, w: Work) -> None:
        if _LOCK.match(name):
            w.locks = min(w.locks + 1, 3)
        elif _LOCK_IRQ.match(name):
            w.locks = min(w.locks + 1, 3)
            w.irq_off = min(w.irq_off + 1, 3)
        elif _UNLOCK.match(name):
            w.locks = max(w.locks - 1, 0)
        elif _UNLOCK_IRQ.match(name):
            w.locks = max(w.locks - 1, 0)
            w.irq_off = max(w.irq_off - 1, 0)
        elif _IRQ_OFF.match(name):
            w.irq_off = min(w.irq_off + 1, 3)
        elif _IRQ_ON.match(name):
            w.irq_off = max(w.irq_off - 1, 0)

    def _map(self, api: Api, n: Node, args: list[Node], w: Work) -> Any:
        kind = api.kind
        slot = None
        if api.name in ("kmap_atomic", "kmap_atomic_pfn") and len(args) == 2 or \
                api.name == "__bio_kmap_atomic" and len(args) == 3:
            # 2.6.37-3.x kept the two-argument form as a macro that ignores the type.
            kind, slot = ("atomic" if self.table.km_type_ignored else "kmtype"), node_text(args[-1])
        elif api.slot is not None and api.slot < len(args):
            kind, slot = "kmtype", node_text(args[api.slot])
        page = node_text(args[api.page]) if api.page is not None and api.page < len(args) else None
        if api.page is not None and api.page < len(args):
            self._nonnull(w, args[api.page])  # mapping NULL would have oopsed: the page is there
        site = n.start_byte
        gen = 1 + max((m.mid[1] for m in w.maps if m.mid[0] == site), default=-1)
        line, col = n.start_point[0] + 1, n.start_point[1] + 1
        reuses: frozenset[tuple[int, int]] = frozenset()
        # A page that is an element of a local array indexed by a variable (``kmap(pages[i])``
        # in a loop, released by a second loop) is one of many mappings: which of them an unmap
        # releases is not tracked, as for mappings stored in arrays.
        opaque = page is not None and _VAR_INDEX.search(page) is not None
        depth = 0
        if kind in ("local", "atomic"):
            depth = len(w.live_stack())
            reuses = frozenset(x.mid for x in w.maps if x.stacked and x.popped and x.depth == depth)
        m = Mapping((site, gen), kind, api.name, line, col, page, slot, "", may_fail=api.may_fail, lazy=api.lazy,
                    depth=depth, reuses=reuses, opaque=opaque)
        if api.handle >= 0 and api.handle < len(args):
            key = _key(args[api.handle])
            if key:
                m = Mapping((site, gen), kind, api.name, line, col, page, slot, key, may_fail=api.may_fail,
                            escaped=key not in self.locals or "->" in key, lazy=api.lazy, depth=depth,
                            reuses=reuses, opaque=opaque)
                w.vars[key] = Ref(m.mid)
        w.maps.append(m)
        if api.lock:
            w.locks = min(w.locks + 1, 3)
        for r in self.rules:
            r.on_map(self.ctx, w, m, n)
        return Ref(m.mid) if api.handle < 0 else None

    def _unmap(self, api: Api, n: Node, args: list[Node], vals: list[Any], w: Work) -> None:
        kind = api.kind
        if (api.name == "kunmap_atomic" and len(args) == 2 or api.name == "__bio_kunmap_atomic" and len(args) == 2) \
                and not self.table.km_type_ignored:
            kind = "kmtype"
        slot = node_text(args[1]) if kind == "kmtype" and len(args) == 2 else None
        if api.handle >= len(args):
            return
        arg = args[api.handle]
        text = node_text(arg)
        v = vals[api.handle]
        target: Mapping | None = None
        via = "unknown"
        if isinstance(v, Ref) and not v.weak:
            target, via = w.find(v.mid), "addr"
            if target is not None and not target.live and target.stacked:
                stack = w.live_stack()
                if stack and target.mid in stack[-1].reuses:
                    # The slot was taken again at the same depth: its address is the stale
                    # pointer's (__fix_to_virt(FIX_KMAP_BEGIN + idx), mm/highmem.c), and the
                    # kernel's unmap, which pops the top of the stack, releases the new mapping.
                    target = stack[-1]
        elif v in (NULL, UNINIT) and kind != "pkmap":
            via = "null"
        else:
            pages = [m for m in w.maps if m.page == text]
            live = [m for m in pages if m.live]
            pick = (live or pages)
            if pick:
                target, via = pick[-1], "page"
        if target is None and via == "unknown":
            if kind in ("local", "atomic"):
                stack = w.live_stack()
                target = stack[-1] if stack else None
            elif kind == "kmtype":
                same = [m for m in w.maps if m.live and m.kind == "kmtype" and (slot is None or m.slot == slot)]
                target = same[-1] if same else None
            if self.summary is not None:
                root = _root(arg)
                if root in self.params:
                    self.param_unmaps[self.params[root]] = kind
                    self.summary.may_unmap.setdefault(self.fn.name, set()).add(self.params[root])
                    w.facts.add((f"\0unmap{self.params[root]}", True))
            if target is not None:
                w.drop(target)
            if api.lock:
                w.locks = max(w.locks - 1, 0)
            return
        later: list[Mapping] = []
        if target is not None and target.stacked:
            idx = next((i for i, m in enumerate(w.maps) if m.mid == target.mid), len(w.maps))
            later = [m for m in w.maps[idx + 1:] if m.live and m.stacked]
        ev = UnmapEvent(api.name, kind, n, text, target, via, later, slot)
        for r in self.rules:
            r.on_unmap(self.ctx, w, ev)
        if target is not None and target.live:
            self.ctx.unmapped_sites.add(target.mid[0])
            line, col = n.start_point[0] + 1, n.start_point[1] + 1
            w.update(target, live=False, unmap_line=line, unmap_column=col, unmap_trips=w.trips,
                     popped=target.stacked and not later and target.depth == len(w.live_stack()) - 1)
        if api.lock:
            w.locks = max(w.locks - 1, 0)


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


def _exited(s: State, span: tuple[int, int]) -> State:
    """``s`` leaving a loop (lines ``span``) by its test after a pass: its unmaps are marked so.

    Whether a pointer unmapped in the loop is still used after it depends on when the test
    ends the loop (``while (len < data_len)`` after the last fragment is unmapped), which the
    analysis does not evaluate; a use after such an exit is not reported, as loop-carried uses
    are not.
    """
    def inside(m: Mapping) -> bool:
        return not m.live and not m.exited and span[0] <= m.unmap_line <= span[1]
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


def analyse_function(fn: Function, path: str, table: ApiTable, irq_line: int | None = None,
                     summary: Summary | None = None) -> tuple[list[Any], str]:
    """Analyse ``fn`` of file ``path``; returns its findings and ``ok``, ``budget`` or ``truncated``.

    With ``summary``, also records in it what ``fn`` does as a helper (the driver's first pass).
    """
    ctx = Context(path, fn.name, irq_line, table=table)
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
