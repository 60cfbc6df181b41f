"""Conditions: the facts a path keeps about the tests it passed, and deciding or assuming a test.

A fact is a test's text in a normal form (:func:`_fact_key`) with its truth; only tests that can
correlate two branches are kept (:func:`_repeated_conditions`).  :class:`Conditions` is the part
of the analysis that splits states at a branch: it decides a test from the state where it can
and otherwise assumes each side, recording what that settles (a mapping that did not fail, a
fact, a local's definition).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from highmem.scan.parse import declarator_name, node_text
from highmem.scan.state import DEF, NULL, UNINIT, Ref, State, Work
from highmem.scan.values import Node, _call_key, _call_name, _cond_strip, _impure, _null_test, _strip, _value_of

__all__ = ["Conditions", "_fact_key", "_condition_leaves", "_is_condition", "_repeated_conditions", "_setter_fact",
           "_NAME_EQ"]

#: The fact key of ``a == b`` between two plain names.
_NAME_EQ = re.compile(r"^([A-Za-z_]\w*) == ([A-Za-z_]\w*)$")
#: Nodes a condition tests the value of (``if (p)``, ``if ((x = f()))``).
_VALUE_NODES = ("identifier", "field_expression", "parenthesized_expression", "cast_expression", "update_expression",
                "assignment_expression")
#: Operators whose test is kept as the negation of another's (``a != b`` is ``!(a == b)``).
_NEGATED = {"!=": "==", ">=": "<", ">": "<="}

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


class Conditions:
    """Deciding and assuming conditions on a path (a mixin of the analysis)."""

    #: Fact keys worth keeping on a path (:func:`_repeated_conditions` and what the walk adds).
    useful: set[str]
    #: Locals initialised with a test and never assigned again: name -> the test.
    defs: dict[str, Node]
    #: The function's parameters and locals.
    locals: set[str]
    #: For each name, the texts of the calls assigned to it ("" for anything else).
    sources: dict[str, set[str]]
    #: ``a == b`` conditions between two plain names: name -> (fact key, the other name).
    eq_keys: dict[str, list[tuple[str, str]]]

    if TYPE_CHECKING:
        def ev(self, n: Node | None, w: Work) -> Any: ...

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
