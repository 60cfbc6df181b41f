"""What a rule sees: the hooks the analysis calls, the unmap event, and the reporting context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from highmem.scan.diagnostics import Finding, Note
from highmem.scan.state import Mapping, Work

__all__ = ["Context", "Rule", "UnmapEvent", "describe", "pos"]

Node = Any


def pos(node: Node) -> tuple[int, int]:
    """1-based line and column of ``node``."""
    return node.start_point[0] + 1, node.start_point[1] + 1


def describe(m: Mapping) -> str:
    """How a message names mapping ``m``: its variable, or the page it maps."""
    if m.name:
        return f"'{m.name}'"
    if m.page:
        return f"the mapping of '{m.page}'"
    return "the mapping"


@dataclass
class UnmapEvent:
    """An unmap call and what it released.

    ``via`` says how the argument named the mapping: ``addr`` (the mapped address or a pointer
    derived from it), ``page`` (the page pointer), ``null`` (a variable that holds NULL or was never
    assigned on this path) or ``unknown`` (something the analysis cannot follow).  ``later`` are the
    stacked mappings made after ``target`` and still live.
    """

    api: str
    kind: str
    node: Node
    arg: str
    target: Mapping | None
    via: str
    later: list[Mapping] = field(default_factory=list)
    slot: str | None = None


@dataclass
class Context:
    """One function's reporting context: where findings go, and facts known for the whole function."""

    path: str
    function: str
    irq_handler_line: int | None
    findings: dict[tuple[str, int, int, str], Finding] = field(default_factory=dict)
    unmapped_sites: set[int] = field(default_factory=set)
    table: Any = None
    #: Names the function's body calls anywhere (``name(`` in its text), on any path.
    callees: frozenset[str] = frozenset()

    def report(self, rule: str, node: Node | tuple[int, int], message: str,
               notes: list[tuple[int, int, str]] = (),  # type: ignore[assignment]
               same: str | None = None) -> None:
        """Record a finding of ``rule`` at ``node``; the same finding on several paths is kept once.

        ``same`` names what makes two findings at one place the same one when their messages
        differ only by the path taken (the use of one mapping after either of two unmaps): the
        first path's message is kept, as a compiler reports one diagnostic per place.
        """
        line, col = node if isinstance(node, tuple) else pos(node)
        key = (rule, line, col, message if same is None else same)
        if key not in self.findings:
            self.findings[key] = Finding(rule, self.path, line, col, self.function, message,
                                         tuple(Note(self.path, ln, c, msg) for ln, c, msg in notes))

    def mapped_here(self, m: Mapping, what: str = "") -> tuple[int, int, str]:
        """The note that points at ``m``'s map call."""
        return (m.line, m.column, f"{what or describe(m)} mapped here with {m.api}()")


class Rule:
    """Base of the rules: every hook does nothing."""

    id = ""

    def on_map(self, ctx: Context, w: Work, m: Mapping, node: Node) -> None:
        """A mapping ``m`` was just made by the call ``node``."""

    def on_unmap(self, ctx: Context, w: Work, ev: UnmapEvent) -> None:
        """An unmap call, before the state records it."""

    def on_use(self, ctx: Context, w: Work, m: Mapping, node: Node, how: str) -> None:
        """A value pointing into ``m`` is dereferenced or passed to a call (``how``)."""

    def on_call(self, ctx: Context, w: Work, name: str, node: Node) -> None:
        """A call of a function that is neither a map nor an unmap."""

    def on_store(self, ctx: Context, w: Work, m: Mapping, where: str, node: Node) -> None:
        """A pointer into live mapping ``m`` was stored outside the function's locals."""

    def on_return(self, ctx: Context, w: Work, node: Node | tuple[int, int], returned: set[tuple[int, int]]) -> None:
        """A path leaves the function at ``node`` (a return, or the closing brace)."""

    def finish(self, ctx: Context) -> None:
        """All paths are done."""
