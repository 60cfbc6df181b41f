"""Snapshots: a machine restored in place equals a freshly booted one, field by field."""

from __future__ import annotations

import types
from enum import Enum
from typing import Any

import pytest

from highmem.errors import HighmemError
from highmem.kernel.machine import Machine
from highmem.profiles import PROFILE_NAMES, make_config
from highmem.scenarios import builtin_names, load_builtin
from highmem.sim.explore import Booted, run_once
from highmem.sim.strategy import RandomStrategy
from highmem.snapshot import JournalArray, Snapshot, SnapshotUnsupported

_ATOMS = (int, float, str, bytes, bool, type(None), type, types.ModuleType, types.BuiltinFunctionType, Enum,
          types.CodeType, frozenset, range)


def _contents(a: Any) -> bytes:
    return bytes(a.view if isinstance(a, JournalArray) else a)


def same_state(a: Any, b: Any, path: str = "m", pairs: dict[int, int] | None = None) -> None:
    """Assert that the object graphs under ``a`` and ``b`` hold equal values with the same sharing."""
    pairs = {} if pairs is None else pairs
    if isinstance(a, _ATOMS):
        assert a == b and type(a) is type(b), f"{path}: {a!r} != {b!r}"
        return
    if a is b:  # shared by both graphs (the scenario's tables): nothing to compare
        return
    if getattr(type(a), "__snapshot__", None) == "cache":  # declared caches outlive restores on purpose
        return
    if id(a) in pairs:
        assert pairs[id(a)] == id(b), f"{path}: shared differently"
        return
    pairs[id(a)] = id(b)
    if isinstance(a, (memoryview, JournalArray)):
        assert isinstance(b, (memoryview, JournalArray)), f"{path}: {type(b).__name__} is not an array"
        assert _contents(a) == _contents(b), f"{path}: array contents differ"
        return
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b), f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same_state(x, y, f"{path}[{i}]", pairs)
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
        for k in a:
            same_state(a[k], b[k], f"{path}[{k!r}]", pairs)
    elif isinstance(a, (set, bytearray)):
        assert a == b, f"{path}: {a!r} != {b!r}"
    elif isinstance(a, types.FunctionType):
        assert a.__code__ is b.__code__, f"{path}: different functions"
        for i, (x, y) in enumerate(zip(a.__closure__ or (), b.__closure__ or (), strict=True)):
            same_state(x.cell_contents, y.cell_contents, f"{path}.<cell {i}>", pairs)
        same_state(a.__defaults__, b.__defaults__, f"{path}.__defaults__", pairs)
    elif isinstance(a, types.MethodType):
        assert a.__func__ is b.__func__, f"{path}: different methods"
        same_state(a.__self__, b.__self__, f"{path}.__self__", pairs)
    elif isinstance(a, types.BuiltinMethodType):
        same_state(a.__self__, b.__self__, f"{path}.__self__", pairs)
    elif type(a).__module__.startswith("highmem.kernel.config") or type(a).__name__ in ("Profile", "Scenario"):
        assert a is b or a == b, f"{path}: shared objects differ"
    else:
        da, db = getattr(a, "__dict__", None), getattr(b, "__dict__", None)
        if da is not None:
            same_state(da, db, f"{path}.__dict__", pairs)
        for k in type(a).__mro__:
            for n in k.__dict__.get("__slots__", ()):
                if n not in ("__dict__", "__weakref__"):
                    same_state(getattr(a, n, None), getattr(b, n, None), f"{path}.{n}", pairs)


def _cells() -> list[tuple[str, str]]:
    out = []
    for name in builtin_names():
        for p in PROFILE_NAMES:
            out.append((name, p))
    return out


@pytest.mark.parametrize(("name", "profile"), _cells())
def test_snapshot_restored_machine_equals_fresh_boot(name: str, profile: str) -> None:
    """After schedules of a built-in, the restored machine and workload equal a fresh boot's, field by field."""
    sc = load_builtin(name)
    try:
        cfg = sc.config(profile)
        fresh = Machine(cfg)
        fresh_w = sc.workload(fresh)
    except HighmemError:
        pytest.skip(f"{name} does not run on {profile}")
    booted = Booted(sc, cfg)
    for seed in range(4 if name != "bounce-io" else 2):
        try:
            run_once(sc, cfg, RandomStrategy(seed), booted=booted)
        except HighmemError:
            pass
    assert booted.snap is not None, "the built-in's workload could not be snapshotted"
    m, w = booted.acquire()
    assert booted.boots == 2  # the first two boot, the rest restore
    same_state(m, fresh)
    same_state(w.tasks + w.irqs + w.softirqs, fresh_w.tasks + fresh_w.irqs + fresh_w.softirqs, "workload")


def test_snapshot_restore_undoes_a_kmap_and_new_frames() -> None:
    """A kmap_atomic, a store into a new frame and an allocation are all undone by restore."""
    m = Machine(make_config("linux-2.4", memory="2G"))
    snap = Snapshot([m])
    before = dict(m.phys.frames)
    page = m.alloc_highpage()
    v = m.kmap_atomic(page, "KM_USER0")
    m.store(v, b"x")
    assert page.count == 1 and page.pfn in m.phys.frames
    snap.restore()
    assert m.phys.frames == before and page.count == 0
    same_state(m, Machine(make_config("linux-2.4", memory="2G")))


def test_snapshot_refuses_a_greenlet() -> None:
    """An object the snapshot cannot restore (a greenlet) is refused with SnapshotUnsupported naming its type."""
    from greenlet import greenlet

    with pytest.raises(SnapshotUnsupported, match="greenlet"):
        Snapshot([{"g": greenlet(lambda: None)}])


def test_snapshot_journal_array_rewinds_first_values() -> None:
    """A JournalArray rewinds every written entry to the value it had before its first write."""
    arr = JournalArray(memoryview(bytearray(16)).cast("I"))
    arr[1] = 5
    arr[1] = 7
    arr[2] = 9
    assert (arr[1], arr[2], len(arr)) == (7, 9, 4)
    arr.rewind()
    assert bytes(arr.view) == bytes(16) and arr.journal == {}


def test_snapshot_comparison_sees_an_unrestored_kmap() -> None:
    """The field-by-field comparison fails on a machine whose kmap was not undone (it can fail)."""
    cfg = make_config("linux-2.4", memory="2G")
    m = Machine(cfg)
    m.kmap_atomic(m.alloc_highpage(), "KM_USER0")
    with pytest.raises(AssertionError):
        same_state(m, Machine(cfg))
