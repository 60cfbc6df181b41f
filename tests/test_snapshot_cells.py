"""Snapshot closure cells: only those a reached function rebinds (``nonlocal``) are restored, and they are."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from highmem.snapshot import _HIGHMEM_DIR, Snapshot, _rebound

_SRC = '''
def make():
    count = 0
    fixed = [0]
    name = "op"

    def bump():
        nonlocal count
        count += 1
        fixed[0] += 1
        return count, name

    def deep():
        def inner():
            nonlocal count
            count = 100
        inner()
        return count

    def reader():
        return count, fixed, name

    return bump, deep, reader
'''


def _highmem_functions() -> tuple[Callable[[], Any], ...]:
    # Compiled as if highmem's own code (the snapshot leaves other files' functions alone).
    ns: dict[str, Any] = {}
    exec(compile(_SRC, _HIGHMEM_DIR + "_cells_under_test.py", "exec"), ns)
    fns: tuple[Callable[[], Any], ...] = ns["make"]()
    return fns


def test_rebound_covers_the_nonlocal_free_variables_nested_ones_included() -> None:
    """The free variables a function may rebind include those it or a nested function assigns with
    nonlocal; a function that assigns no cell rebinds none."""
    bump, deep, reader = _highmem_functions()
    assert "count" in _rebound(bump.__code__)
    assert "count" in _rebound(deep.__code__)
    assert _rebound(reader.__code__) == frozenset()


def test_restore_puts_back_rebound_cells_and_the_contents_of_the_others() -> None:
    """After a restore, a cell rebound through nonlocal and a list held by a cell that is never rebound
    both have their snapshot values again."""
    bump, deep, reader = _highmem_functions()
    snap = Snapshot([bump, deep, reader])
    bump()
    deep()
    assert reader() == (100, [1], "op")
    snap.restore()
    assert reader() == (0, [0], "op")
    assert bump() == (1, "op")
