"""The control flow of one function body, as a small structured tree the analysis walks.

A tree rather than a graph of basic blocks because the analysis is a path-sensitive abstract
interpreter: it carries a set of states through each statement, so structured statements (if,
switch, loops unrolled zero, one and two times, ``#if``/``#else``) are the natural unit, and the
unstructured ones (``goto``, ``break``, ``continue``, ``return``) are named exits the walker routes
to their targets.  Kernel idioms are resolved here so the analysis never sees them:

* an iteration macro, ``list_for_each_entry(pos, head, member) { ... }``, is a :class:`Loop`;
* ``do { ... } while (0)`` runs its body exactly once;
* ``#if``/``#ifdef`` with or without ``#else`` is an :class:`Alt` of its branches (``#if 0`` keeps
  only the ``#else`` side, as the compiler would);
* ``__attribute__((...))`` statements are their inner statement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Stmt", "Expr", "Decl", "Seq", "If", "Alt", "Loop", "Switch", "Goto", "Label", "Return", "Break",
           "Continue", "build"]

Node = Any


class Stmt:
    """A statement of the structured control-flow tree."""


@dataclass
class Expr(Stmt):
    node: Node


@dataclass
class Decl(Stmt):
    node: Node


@dataclass
class Seq(Stmt):
    items: list[Stmt] = field(default_factory=list)


@dataclass
class If(Stmt):
    cond: Node
    then: Stmt
    other: Stmt | None


@dataclass
class Alt(Stmt):
    """Branches of which exactly one runs, none of them preferred (``#if``/``#else``).

    ``key`` names the configuration test (``defined(CONFIG_X)`` or the ``#if`` expression) when there
    are two branches: the first runs when it holds (``neg``: when it does not), so a later ``#ifdef``
    of the same symbol in the function takes the same side."""

    branches: list[Stmt]
    key: str | None = None
    neg: bool = False


@dataclass
class Loop(Stmt):
    """``min_iter`` is 0 for while/for/macros, 1 for do-while; ``max_iter`` is 1 for ``do ... while (0)``."""

    cond: Node | None
    body: Stmt
    init: Stmt | None = None
    update: Node | None = None
    min_iter: int = 0
    max_iter: int = 2
    forever: bool = False


@dataclass
class Switch(Stmt):
    cond: Node
    cases: list[tuple[bool, Seq]]


@dataclass
class Goto(Stmt):
    label: str
    node: Node


@dataclass
class Label(Stmt):
    name: str
    stmt: Stmt


@dataclass
class Return(Stmt):
    value: Node | None
    node: Node


class Break(Stmt):
    pass


class Continue(Stmt):
    pass


_ITER_MACRO = re.compile(r"for_each|foreach|^for_|_for$|^while_|each_entry|each_safe")
_SKIP = {"{", "}", "comment", ";", "preproc_def", "preproc_function_def", "preproc_call", "preproc_include",
         "#endif", "#else", "#if", "#ifdef", "#ifndef", "#elif", "#elifdef", "\n"}


def _zero(node: Node | None) -> bool:
    return node is not None and node.text.strip(b"() \t\n") in (b"0", b"false")


def _forever(node: Node | None) -> bool:
    return node is None or node.text.strip(b"() \t\n") in (b"1", b"true")


def _missing_semicolon(node: Node) -> bool:
    last = node.children[-1] if node.children else None
    return last is not None and last.type == ";" and last.is_missing


def _macro_name(node: Node) -> str | None:
    call = node.named_children[0] if node.named_children else None
    if call is not None and call.type == "call_expression":
        fn = call.child_by_field_name("function")
        if fn is not None and fn.type == "identifier":
            return str(fn.text.decode())
    return None


def _seq(children: list[Node]) -> Seq:
    items: list[Stmt] = []
    i = 0
    while i < len(children):
        c = children[i]
        if c.type == "expression_statement" and _missing_semicolon(c) and i + 1 < len(children):
            name = _macro_name(c)
            if name is not None and (_ITER_MACRO.search(name) or children[i + 1].type == "compound_statement"):
                call = c.named_children[0]
                items.append(Loop(call, build(children[i + 1]) or Seq()))
                i += 2
                continue
        s = build(c)
        if s is not None:
            items.append(s)
        i += 1
    return Seq(items)


def _preproc(node: Node) -> Stmt:
    alt = node.child_by_field_name("alternative")
    skip = {x.id for x in (alt, node.child_by_field_name("condition"), node.child_by_field_name("name"))
            if x is not None}
    body = [c for c in node.children if c.id not in skip and c.is_named]
    first = _seq(body)
    second = _preproc(alt) if alt is not None and alt.type != "preproc_else" else \
        _seq([c for c in alt.children if c.is_named]) if alt is not None else Seq()
    if node.type == "preproc_if" and _zero(node.child_by_field_name("condition")):
        return second
    key, neg = None, False
    if node.type == "preproc_ifdef":
        name = node.child_by_field_name("name")
        key = f"defined({name.text.decode()})" if name is not None else None
        neg = node.children[0].type == "#ifndef"
    elif node.type == "preproc_if" and node.child_by_field_name("condition") is not None:
        key = " ".join(node.child_by_field_name("condition").text.decode().split())
    return Alt([first, second], key, neg)


def build(node: Node) -> Stmt | None:
    """The structured statement for the tree-sitter statement ``node`` (``None`` for nothing to run)."""
    t = node.type
    if t in _SKIP or not node.is_named:
        return None
    if t == "compound_statement":
        return _seq(list(node.children))
    if t == "expression_statement":
        return Expr(node.named_children[0]) if node.named_children else None
    if t == "declaration":
        return Decl(node)
    if t == "if_statement":
        other = node.child_by_field_name("alternative")
        if other is not None and other.type == "else_clause":
            other = other.named_children[0] if other.named_children else None
        return If(node.child_by_field_name("condition"), build(node.child_by_field_name("consequence")) or Seq(),
                  (build(other) or Seq()) if other is not None else None)
    if t == "while_statement":
        cond = node.child_by_field_name("condition")
        return Loop(cond, build(node.child_by_field_name("body")) or Seq(), forever=_forever(cond))
    if t == "do_statement":
        cond = node.child_by_field_name("condition")
        return Loop(cond, build(node.child_by_field_name("body")) or Seq(), min_iter=1,
                    max_iter=1 if _zero(cond) else 2, forever=_forever(cond))
    if t == "for_statement":
        init = node.child_by_field_name("initializer")
        cond = node.child_by_field_name("condition")
        init_s = None if init is None else (Decl(init) if init.type == "declaration" else Expr(init))
        return Loop(cond, build(node.child_by_field_name("body")) or Seq(), init=init_s,
                    update=node.child_by_field_name("update"), forever=cond is None)
    if t == "switch_statement":
        cases: list[tuple[bool, Seq]] = []
        body = node.child_by_field_name("body")
        for c in body.named_children if body is not None else []:
            if c.type == "case_statement":
                value = c.child_by_field_name("value")
                stmts = [x for x in c.named_children if value is None or x.id != value.id]
                cases.append((value is None, _seq(stmts)))
            elif cases:
                s = build(c)
                if s is not None:
                    cases[-1][1].items.append(s)
        return Switch(node.child_by_field_name("condition"), cases)
    if t == "goto_statement":
        label = node.child_by_field_name("label")
        return Goto(label.text.decode() if label is not None else "", node)
    if t == "labeled_statement":
        label = node.child_by_field_name("label")
        inner = [c for c in node.named_children if label is None or c.id != label.id]
        return Label(label.text.decode() if label is not None else "", _seq(inner))
    if t == "return_statement":
        return Return(node.named_children[0] if node.named_children else None, node)
    if t == "break_statement":
        return Break()
    if t == "continue_statement":
        return Continue()
    if t in ("preproc_if", "preproc_ifdef", "preproc_elif", "preproc_elifdef"):
        return _preproc(node)
    if t == "preproc_else":
        return _seq([c for c in node.children if c.is_named])
    if t == "attributed_statement":
        inner = [c for c in node.named_children if c.type != "attribute_declaration"]
        return _seq(inner)
    if t == "ERROR":
        return _seq(list(node.children))
    if t in ("gnu_asm_expression", "type_definition", "function_definition", "struct_specifier",
             "enum_specifier", "union_specifier"):
        return None
    return Expr(node)
