"""Parsing unpreprocessed kernel C with tree-sitter: the functions of one file.

The parser never sees the preprocessor's output, so macros stay as written: an iteration macro
(``list_for_each_entry(pos, head, member) {``) parses as a call missing its ``;`` followed by a
block (:mod:`highmem.scan.cfg` turns that pair into a loop), ``#if``/``#else`` inside a body are
``preproc_*`` nodes whose branches are all kept, and statement expressions are compound
statements inside parentheses.  A function whose parse tree has an ``ERROR`` node that swallowed
a mapping call cannot be analysed faithfully: it is reported as a parse failure, not guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

__all__ = ["Function", "SourceFile", "parse_source", "node_text", "declarator_name"]

Node = Any  # tree_sitter.Node; the binding has no useful static types


@lru_cache(maxsize=1)
def _parser() -> Any:
    import tree_sitter_c
    from tree_sitter import Language, Parser

    return Parser(Language(tree_sitter_c.language()))


def node_text(node: Node) -> str:
    """The source text of ``node`` with runs of white space squeezed to one blank."""
    return " ".join(node.text.decode("utf-8", "replace").split())


def declarator_name(node: Node | None) -> str | None:
    """The identifier a declarator declares (``*p``, ``p[4]``, ``(*fn)(int)`` -> ``p`` / ``fn``)."""
    while node is not None:
        if node.type in ("identifier", "field_identifier"):
            return str(node.text.decode())
        nxt = node.child_by_field_name("declarator")
        if nxt is None:
            for c in node.named_children:
                if c.type in ("identifier", "pointer_declarator", "array_declarator", "parenthesized_declarator",
                              "function_declarator", "attributed_declarator"):
                    nxt = c
                    break
        node = nxt
    return None


@dataclass
class Function:
    """One function definition: its name, body, parameters and where it is."""

    name: str
    node: Node
    body: Node
    params: list[str]
    static: bool
    line: int
    end_line: int
    end_col: int
    text: str


@dataclass
class SourceFile:
    """A parsed file: its functions, the functions that failed to parse, and the interrupt handlers."""

    path: str
    source: bytes
    functions: list[Function] = field(default_factory=list)
    failures: list[tuple[str, int]] = field(default_factory=list)
    irq_handlers: dict[str, int] = field(default_factory=dict)
    lines: list[bytes] = field(default_factory=list)
    others: list[Node] = field(default_factory=list)

    def add_callers(self, names: re.Pattern[bytes]) -> None:
        """Also keep the functions that did not name the API but match ``names`` (callers of helpers)."""
        for c in self.others:
            if names.search(c.child_by_field_name("body").text):
                _keep(self, c, names)
        self.others = []
        self.functions.sort(key=lambda f: f.line)


_IRQ_REGISTER = re.compile(
    rb"\b(?:request_irq|request_threaded_irq|devm_request_irq|request_any_context_irq|setup_irq)\s*\(\s*[^,]+,\s*"
    rb"(?:&\s*)?([A-Za-z_]\w*)")


def _function_name(defn: Node) -> str | None:
    decl = defn.child_by_field_name("declarator")
    while decl is not None and decl.type != "function_declarator":
        decl = decl.child_by_field_name("declarator")
    if decl is None:
        return None
    return declarator_name(decl.child_by_field_name("declarator"))


def _params(defn: Node) -> list[str]:
    decl = defn.child_by_field_name("declarator")
    while decl is not None and decl.type != "function_declarator":
        decl = decl.child_by_field_name("declarator")
    out: list[str] = []
    plist = decl.child_by_field_name("parameters") if decl is not None else None
    if plist is not None:
        for p in plist.named_children:
            if p.type == "parameter_declaration":
                out.append(declarator_name(p.child_by_field_name("declarator")) or "")
    return out


def _errors_touching(node: Node, names: re.Pattern[bytes]) -> bool:
    """Whether an ERROR node under ``node`` contains one of ``names`` (a mapping call we would misread)."""
    if not node.has_error:
        return False
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == "ERROR":
            # The statement the error broke: if it held a mapping call, that call was misread.
            outer = n
            while outer.parent is not None and outer.parent.type != "compound_statement" and outer.id != node.id:
                outer = outer.parent
            if names.search(outer.text):
                return True
        stack.extend(c for c in n.children if c.has_error)
    return False


def _keep(sf: SourceFile, c: Node, names: re.Pattern[bytes]) -> None:
    body = c.child_by_field_name("body")
    name = _function_name(c)
    if name is None or _errors_touching(body, names):
        sf.failures.append((name or "?", c.start_point[0] + 1))
        return
    static = any(ch.type == "storage_class_specifier" and ch.text == b"static" for ch in c.children)
    sf.functions.append(Function(name, c, body, _params(c), static, c.start_point[0] + 1,
                                 body.end_point[0] + 1, body.end_point[1], ""))


def parse_source(path: str, source: bytes, names: re.Pattern[bytes], quick: tuple[bytes, ...] = (b"",)) -> SourceFile:
    """Parse ``source`` and keep the functions whose text matches ``names`` (the mapping API).

    Called by the scan driver once per file; ``names`` is the wrapper table's regular expression.
    """
    tree = _parser().parse(source)
    sf = SourceFile(path, source, lines=source.split(b"\n"))
    for m in _IRQ_REGISTER.finditer(source):
        sf.irq_handlers.setdefault(m.group(1).decode(), source.count(b"\n", 0, m.start()) + 1)
    stack = [tree.root_node]
    while stack:
        n = stack.pop()
        for c in reversed(n.children):
            if c.type == "function_definition":
                body = c.child_by_field_name("body")
                if body is None:
                    continue
                text = body.text
                if not any(k in text for k in quick) or not names.search(text):
                    sf.others.append(c)
                    continue
                _keep(sf, c, names)
            elif c.type in ("preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif", "preproc_elifdef",
                            "ERROR", "linkage_specification", "declaration_list"):
                if c.type == "ERROR" and names.search(c.text):
                    # A top-level ERROR that holds a mapping call is a function we could not isolate.
                    sf.failures.append(("?", c.start_point[0] + 1))
                stack.append(c)
    sf.functions.sort(key=lambda f: f.line)
    return sf
