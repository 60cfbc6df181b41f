"""Expressions and the values a path gives them: the small readings of tree-sitter nodes the
analysis makes everywhere (an lvalue's tracked name, a call's name, a condition stripped of
casts and ``likely()``, a ``NULL`` test, the value a name holds on a path).

The bottom layer of the analysis: it knows nodes and :class:`~highmem.scan.state.Work`, nothing
of conditions, loops or calls.
"""

from __future__ import annotations

from typing import Any

from highmem.scan.parse import node_text
from highmem.scan.state import NULL, Work

__all__ = ["Node", "_strip", "_key", "_cond_strip", "_call_name", "_call_key", "_value_of", "_null_test", "_impure",
           "_root"]

#: A tree-sitter node (the bindings are untyped).
Node = Any
#: The spellings of a null pointer a test compares against.
_NULLS = {"NULL", "0", "false", "nullptr"}


def _strip(node: Node) -> Node:
    """``node`` without the parentheses and casts around it (a GNU statement expression is kept)."""
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


def _cond_strip(node: Node | None) -> Node | None:
    """The test a condition makes: through parentheses, casts, ``p++`` and ``likely()``-style wrappers."""
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
    """The called function's name, or None for a call through a pointer or an expression."""
    fn = node.child_by_field_name("function")
    return fn.text.decode() if fn is not None and fn.type == "identifier" else None


def _value_of(node: Node, w: Work) -> Any:
    """What ``node`` holds on the path ``w`` without evaluating it (no events, no steps)."""
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


def _call_key(name: str, node: Node) -> str:
    """A call's text in a normal form (``name(a, b)``), so that two spellings of one call are one fact."""
    args = node.child_by_field_name("arguments")
    parts = [node_text(a) for a in args.named_children if a.type != "comment"] if args is not None else []
    return f"{name}({', '.join(parts)})"


def _impure(node: Node) -> bool:
    """Whether ``node`` assigns anything: such a test cannot be a fact (its second evaluation differs)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type in ("assignment_expression", "update_expression"):
            return True
        stack.extend(n.named_children)
    return False


def _root(node: Node) -> str | None:
    """The variable an lvalue starts from (``s`` for ``s->a[i].b``), or None."""
    node = _strip(node)
    while node is not None and node.type in ("field_expression", "subscript_expression", "pointer_expression"):
        node = _strip(node.child_by_field_name("argument"))
    return node_text(node) if node is not None and node.type == "identifier" else None
