"""Snapshots of a booted machine, restored in place: boot once per exploration.

Booting a machine (page tables, fixmap, pools, profile primitives) costs
more than a short schedule.  :class:`Snapshot` records, once, the state of
every mutable object reachable from its roots (the machine, and for a TOML
scenario the compiled workload that refers to it), and :meth:`Snapshot.restore`
puts every one of them back *in place*: the same objects, with the
contents they had, so that references the kernel model keeps between
objects (the page-table frames in ``kmap_pte_at``, the bus in every CPU,
pages in the workload's closures) stay valid.

What is recorded, by kind of object:

* instances (``__dict__`` or ``__slots__``): their attribute values (not
  :class:`~highmem.hw.physmem.Page` handles, which never change: the
  ``struct page`` they name is in ``mem_map``);
* lists, dicts, sets, deques: their contents; bytearrays (frames): their bytes;
* closure cells of highmem's functions reached (compiled operations): the
  values of those a function reached rebinds (``nonlocal``; the others cannot
  change after the function that made them returned, and what they hold is
  recorded as anything else); a Python scenario's own functions are left alone
  (what they keep outlives a schedule, as it did when every schedule booted afresh);
* ``mem_map``'s flat arrays: too large to copy per schedule, so a
  :class:`JournalArray` stands in front of each and remembers the first
  value of every entry written after the snapshot.

Objects shared by every machine (profiles, configurations, scenarios) are
not recorded: nothing in a run may change them; nor are instances of classes
that declare ``__snapshot__ = "cache"`` (deterministic caches, valid after a
restore).  An object of a kind the
snapshot cannot restore (a greenlet, a generator, a file) makes
:class:`Snapshot` raise :class:`SnapshotUnsupported`; the explorer then boots
afresh for each schedule, as it did before snapshots existed.

States: *taken* (after construction), then *restored* after each
:meth:`restore`; a restored machine is field by field equal to the machine
at the time of the snapshot (tests/test_snapshot.py compares it with a
fresh boot after every built-in on every profile).
"""

from __future__ import annotations

import os
import types
from collections import deque
from collections.abc import Iterable
from enum import Enum
from typing import Any

__all__ = ["Snapshot", "SnapshotUnsupported", "JournalArray"]


class SnapshotUnsupported(Exception):
    """Something reachable from the roots cannot be restored in place."""


class JournalArray:
    """A ``memoryview`` of 32-bit entries that remembers what it overwrote since the last reset.

    Indexing by an integer reads and writes the view; the first write of an
    entry after :meth:`reset` saves its old value, and :meth:`rewind` puts
    every saved value back.  Any context.
    """

    __slots__ = ("view", "journal")

    def __init__(self, view: memoryview) -> None:
        self.view = view
        self.journal: dict[int, int] = {}

    def __getitem__(self, i: int) -> int:
        v: int = self.view[i]
        return v

    def __setitem__(self, i: int, value: int) -> None:
        j = self.journal
        if i not in j:
            j[i] = self.view[i]
        self.view[i] = value

    def __len__(self) -> int:
        return len(self.view)

    def rewind(self) -> None:
        """Every entry written since the last rewind gets its old value back."""
        view = self.view
        for i, v in self.journal.items():
            view[i] = v
        self.journal.clear()


_ATOMS: tuple[type, ...] = (int, float, complex, str, bytes, bool, type(None), range, type, types.ModuleType,
                            types.BuiltinFunctionType, types.CodeType, frozenset, Enum, type(Ellipsis),
                            type(NotImplemented))
#: The exact types of _ATOMS most often met (a set lookup instead of isinstance against all of them).
_PLAIN_ATOMS = frozenset({int, str, bytes, bool, float, type(None)})
_UNSET = object()
_HIGHMEM_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _shared_types() -> tuple[type, ...]:
    """Types whose instances are shared between machines and never changed by a run."""
    import re
    import struct

    from highmem.hw.pagetable import Geometry
    from highmem.kernel.config import KernelConfig
    from highmem.profiles import Profile
    from highmem.scenarios.model import Scenario

    # Geometry: the page-table encodings PAE and NON_PAE, frozen records every machine shares.
    return (KernelConfig, Profile, Scenario, Geometry, re.Pattern, struct.Struct)


#: code object -> the free variables it (or a function nested in it) rebinds (see _rebound)
_REBOUND: dict[types.CodeType, frozenset[str]] = {}


def _rebound(code: types.CodeType) -> frozenset[str]:
    """The free variables ``code`` may assign or delete (``nonlocal``), itself or in a function nested in it.

    Only these closure cells can change once the function that made them returned, so only they
    are restored (the others hold what they held; their contents are recorded as anything else).
    """
    got = _REBOUND.get(code)
    if got is None:
        got = frozenset(code.co_freevars) if code.co_freevars and _rebinds(code) else frozenset()
        _REBOUND[code] = got
    return got


def _rebinds(code: types.CodeType) -> bool:
    """Whether ``code`` or a function nested in it assigns or deletes any cell variable: a C-level
    search of its opcodes (an opcode is every other byte of co_code; dis would cost milliseconds
    an exploration), conservative in that a function setting a cell of its own counts as
    rebinding its free variables too."""
    from opcode import opmap  # at snapshot time only (not an import of every start-up)

    ops = code.co_code[::2]
    if opmap["STORE_DEREF"] in ops or opmap["DELETE_DEREF"] in ops:
        return True
    for c in code.co_consts:
        if isinstance(c, types.CodeType) and _rebinds(c):
            return True
    return False


def _slot_names(cls: type) -> list[str]:
    names: list[str] = []
    for k in cls.__mro__:
        s = k.__dict__.get("__slots__", ())
        for n in (s,) if isinstance(s, str) else s:
            if n not in ("__dict__", "__weakref__") and n not in names:
                names.append(n)
    return names


class Snapshot:
    """The state of everything mutable reachable from ``roots``; see the module docstring.

    Take it when the machine is booted (and the workload built) and before
    any engine runs on it; :meth:`restore` before each later schedule.
    """

    def __init__(self, roots: Iterable[Any]) -> None:
        self._shared = _shared_types()
        self._dicts: list[tuple[dict[Any, Any], dict[Any, Any]]] = []
        self._lists: list[tuple[list[Any], list[Any]]] = []
        self._sets: list[tuple[set[Any], list[Any]]] = []
        self._deques: list[tuple[deque[Any], list[Any]]] = []
        self._bytes: list[tuple[bytearray, bytes]] = []
        self._slots: list[tuple[Any, list[tuple[str, Any]]]] = []
        self._cells: list[tuple[Any, Any]] = []
        self._journals: list[JournalArray] = []
        # Every object reached stays alive (the roots hold it) while walking, so ids are unique.
        seen: set[int] = set()
        stack = list(roots)
        pop = stack.pop
        while stack:
            o = pop()
            if type(o) in _PLAIN_ATOMS:
                continue  # most of what containers hold: nothing to record, nothing inside
            self._visit(o, seen, stack)

    @property
    def objects(self) -> int:
        """How many objects a restore puts back (a measure of its cost)."""
        return (len(self._dicts) + len(self._lists) + len(self._sets) + len(self._deques) + len(self._bytes)
                + len(self._slots) + len(self._cells) + len(self._journals))

    def _visit(self, o: Any, seen: set[int], stack: list[Any]) -> None:
        t = type(o)
        if t is tuple:
            # Immutable: only what it holds can change (no cycle runs through tuples alone).
            stack.extend(o)
            return
        if isinstance(o, _ATOMS) or isinstance(o, self._shared):
            return
        i = id(o)
        if i in seen:
            return
        seen.add(i)
        if isinstance(o, tuple):
            stack.extend(o)
        elif t is list:
            self._lists.append((o, list(o)))
            stack.extend(o)
        elif t is dict:
            self._dicts.append((o, dict(o)))
            stack.extend(o.values())
        elif t is set:
            self._sets.append((o, list(o)))
        elif t is bytearray:
            self._bytes.append((o, bytes(o)))
        elif t is deque:
            self._deques.append((o, list(o)))
            stack.extend(o)
        elif t is JournalArray:
            self._journals.append(o)
        elif t is types.FunctionType:
            if not o.__code__.co_filename.startswith(_HIGHMEM_DIR):
                # Scenario code (a Python scenario's functions): what it keeps outlives a
                # schedule, as it does when every schedule boots afresh.
                return
            closure = o.__closure__
            if closure:
                rebound = _rebound(o.__code__)
                for name, cell in zip(o.__code__.co_freevars, closure, strict=True):
                    try:
                        v = cell.cell_contents
                    except ValueError:
                        v = _UNSET
                    if v is _UNSET or name in rebound:
                        self._cells.append((cell, v))
                    if v is not _UNSET:
                        stack.append(v)
            if o.__defaults__:
                stack.extend(o.__defaults__)
            if o.__kwdefaults__:
                stack.extend(o.__kwdefaults__.values())
        elif t is types.MethodType:
            stack.append(o.__self__)
            stack.append(o.__func__)
        elif t is types.BuiltinMethodType:
            stack.append(o.__self__)
        elif t is memoryview:
            raise SnapshotUnsupported("a memoryview outside mem_map cannot be restored in place")
        else:
            self._visit_instance(o, t, stack)

    def _visit_instance(self, o: Any, t: type, stack: list[Any]) -> None:
        from highmem.hw.physmem import MemMap, Page

        if t is Page:
            # A handle: (mem_map, pfn) never change; the struct page it names lives in mem_map.
            stack.append(o.mem_map)
            return
        if getattr(t, "__snapshot__", None) == "cache":
            return  # a deterministic cache, valid across restores: left as it is
        mod = t.__module__ or ""
        if not mod.startswith("highmem."):
            raise SnapshotUnsupported(f"an object of type {mod}.{t.__qualname__} cannot be restored in place")
        if t is MemMap or isinstance(o, MemMap):
            for name in ("flags", "count", "virtual"):
                arr = getattr(o, name)
                if type(arr) is memoryview:
                    setattr(o, name, JournalArray(arr))
        d = getattr(o, "__dict__", None)
        if d is not None:
            self._dicts.append((d, dict(d)))
            stack.extend(d.values())
        names = _slot_names(t)
        if names:
            vals = [(n, getattr(o, n, _UNSET)) for n in names]
            self._slots.append((o, vals))
            stack.extend(v for _, v in vals if v is not _UNSET)

    def restore(self) -> None:
        """Put every recorded object back to its recorded state, in place."""
        for d, saved in self._dicts:
            d.clear()
            d.update(saved)
        for lst, saved_l in self._lists:
            if lst != saved_l:
                lst[:] = saved_l
        for s, saved_s in self._sets:
            s.clear()
            s.update(saved_s)
        for dq, saved_q in self._deques:
            dq.clear()
            dq.extend(saved_q)
        for ba, saved_b in self._bytes:
            if ba != saved_b:
                ba[:] = saved_b
        for o, vals in self._slots:
            for n, v in vals:
                if getattr(o, n, _UNSET) is not v:
                    if v is _UNSET:
                        delattr(o, n)
                    else:
                        setattr(o, n, v)
        for cell, v in self._cells:
            if v is _UNSET:
                try:
                    del cell.cell_contents
                except ValueError:
                    pass
            else:
                cell.cell_contents = v
        for j in self._journals:
            if j.journal:  # most schedules write no mem_map entry
                j.rewind()
