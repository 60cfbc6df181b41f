"""The abstract state the analysis carries along one path.

State machine of one mapping (:class:`Mapping`)::

    live --unmap--> unmapped --(no variable refers to it)--> forgotten
      |
      +--return/store--> live, escaped (no longer this function's to release)

A :class:`State` is immutable and hashable, so a set of them per program point is the set of
paths that differ in anything the rules care about; paths that agree merge.  Values of variables
are references to mappings (``Ref``), the NULL constant, "declared, never assigned", or absent
(unknown).  ``facts`` remembers branch conditions already decided on this path, so correlated
tests (``if (highmem) map ...; if (highmem) unmap``) are not treated as independent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["Mapping", "Ref", "NULL", "UNINIT", "DEF", "State", "Work"]


@dataclass(frozen=True)
class Mapping:
    """One mapping made on this path: the call, where, and what became of it."""

    mid: tuple[int, int]
    kind: str
    api: str
    line: int
    column: int
    page: str | None
    slot: str | None
    name: str
    live: bool = True
    unmap_line: int = 0
    unmap_column: int = 0
    escaped: bool = False
    opaque: bool = False
    may_fail: bool = False
    passed: bool = False
    lazy: bool = False
    unmap_trips: int = 0
    #: For a stack mapping, how many stack mappings were live when it was made: its slot index
    #: relative to the function's entry (kmap_local_idx(), mm/highmem.c).
    depth: int = 0
    #: A km_type mapping whose slot this path mapped again (its ``unmap_*`` give that map):
    #: the address now reaches the other page.
    replaced: bool = False
    #: Unmapped inside a loop the path then left by its (undecided) test.
    exited: bool = False
    #: Unmapped as the top of the stack, in order: its slot is free for the next mapping.
    popped: bool = False
    #: The mappings, popped in order from this depth, whose slot (and so address) this one took.
    reuses: frozenset[tuple[int, int]] = frozenset()

    @property
    def stacked(self) -> bool:
        """Whether it sits on the per-CPU kmap_local stack (kmap_local_* and 2.6.37+ kmap_atomic)."""
        return self.kind in ("local", "atomic")


@dataclass(frozen=True)
class Ref:
    """A value that points into mapping ``mid``; ``derived`` after arithmetic (``addr + off``).

    ``weak`` marks the result of an unknown call that was given a pointer into the mapping
    (``next = next_entry(de)``): perhaps a pointer into it, perhaps not.  A weak reference keeps a
    returned or stored mapping from being called a leak, and is never a use or an unmap argument.
    """

    mid: tuple[int, int]
    derived: bool = False
    weak: bool = False


NULL = "null"
UNINIT = "uninit"
#: Prefix of the value of a local that holds a test (followed by the test's text); it stands
#: while no name the test reads is assigned.
DEF = "\0def "
Value = Ref | str


@dataclass(frozen=True)
class State:
    maps: tuple[Mapping, ...] = ()
    vars: tuple[tuple[str, Value], ...] = ()
    irq_off: int = 0
    locks: int = 0
    facts: frozenset[tuple[str, bool]] = frozenset()
    trips: int = 0


class Work:
    """A mutable copy of a :class:`State` for the duration of one statement."""

    def __init__(self, s: State) -> None:
        self.maps = list(s.maps)
        self.vars = dict(s.vars)
        self.irq_off = s.irq_off
        self.locks = s.locks
        self.facts = set(s.facts)
        self.trips = s.trips

    def freeze(self) -> State:
        used = {v.mid for v in self.vars.values() if isinstance(v, Ref)}
        maps = tuple(m for m in self.maps if m.live or m.mid in used)
        return State(maps, tuple(sorted(self.vars.items())), self.irq_off, self.locks, frozenset(self.facts),
                     self.trips)

    def find(self, mid: tuple[int, int]) -> Mapping | None:
        for m in self.maps:
            if m.mid == mid:
                return m
        return None

    def update(self, m: Mapping, **changes: object) -> Mapping:
        new = replace(m, **changes)  # type: ignore[arg-type]
        self.maps = [new if x.mid == m.mid else x for x in self.maps]
        return new

    def drop(self, m: Mapping) -> None:
        self.maps = [x for x in self.maps if x.mid != m.mid]
        for k, v in list(self.vars.items()):
            if isinstance(v, Ref) and v.mid == m.mid:
                del self.vars[k]

    def live_stack(self) -> list[Mapping]:
        return [m for m in self.maps if m.live and m.stacked]

    def forget_facts(self, name: str) -> None:
        self.facts = {f for f in self.facts if not _mentions(f[0], name)}
        for k, v in list(self.vars.items()):
            if isinstance(v, str) and v.startswith(DEF) and _mentions(v, name):
                del self.vars[k]


def _mentions(text: str, name: str) -> bool:
    i = text.find(name)
    while i >= 0:
        before = text[i - 1] if i else " "
        after = text[i + len(name)] if i + len(name) < len(text) else " "
        if not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_"):
            return True
        i = text.find(name, i + 1)
    return False
