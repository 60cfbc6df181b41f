"""Footprints: each step of a run names exactly the shared resources it read and wrote."""

from __future__ import annotations

from highmem.scenarios import load_toml_text
from highmem.sim.explore import Booted
from highmem.sim.footprint import FootprintSimulator, Recorder, dependent
from highmem.sim.strategy import DefaultStrategy

HEAD = '''[scenario]
name = "fp"
[machine]
profile = "linux-2.4"
cpus = 2
memory = "2G"
[pages]
A = { fill = "a" }
'''


def _steps(tasks: str) -> tuple[list[tuple[object, int, dict[object, bool]]], object]:
    sc = load_toml_text(HEAD + tasks, "fp.toml")
    m, w = Booted(sc, sc.config(), snapshot=False).acquire()
    rec = Recorder()
    FootprintSimulator(m, w, DefaultStrategy(), rec, max_steps=sc.max_steps).run()
    return [(s.key, s.cpu, s.fp) for s in rec.steps], m


def test_footprint_kmap_load_unmap_and_spin_lock() -> None:
    """kmap_atomic writes its slot's PTE, a load's TLB fill reads the pgd entry above it and writes it (the walk
    sets the accessed bit) and the load reads the frame, an exit writes the task's live flag, a spin lock is
    written by its taker and its releaser; every step writes its CPU."""
    steps, m = _steps('''
[[task]]
name = "t0"
cpu = 0
ops = [
  { op = "kmap_atomic", page = "A", type = "KM_USER0", as = "v" },
  { op = "load", addr = "v", size = 1, expect = "a" },
  { op = "kunmap_atomic", addr = "v", type = "KM_USER0" },
]
[[task]]
name = "t1"
cpu = 1
ops = [{ op = "spin_lock", lock = "L" }, { op = "spin_unlock", lock = "L" }]
''')
    pte = ("pte", m.slot_vaddr(m.km_type.KM_USER0 + m.KM_TYPE_NR * 0) >> 12)  # type: ignore[attr-defined]
    frame = ("frame", next(pfn for pfn, name in m.page_names.items() if name == "A"))  # type: ignore[attr-defined]
    # swapper_pg_dir's entry for the top 4 MiB (2-level tables: pgd_index = vaddr >> 22)
    pgd = ("pde", m.swapper_pg_dir + (m.slot_vaddr(m.km_type.KM_USER0) >> 22) * 4)  # type: ignore[attr-defined]
    assert steps == [
        (("run", "t0"), 0, {("cpu", 0): True}),
        (("run", "t0"), 0, {("cpu", 0): True, pte: True}),
        (("run", "t0"), 0, {("cpu", 0): True, pgd: False, pte: True, frame: False}),
        (("run", "t0"), 0, {("cpu", 0): True, pte: True, ("live", "t0"): True}),
        (("run", "t1"), 1, {("cpu", 1): True}),
        (("run", "t1"), 1, {("cpu", 1): True, ("lock", "L"): True}),
        (("run", "t1"), 1, {("cpu", 1): True, ("lock", "L"): True, ("live", "t1"): True}),
    ]


def test_footprint_wake_up_writes_the_sleepers_cpu_and_queue() -> None:
    """A wake_up writes its wait queue and the run queue (the CPU) of the task it wakes."""
    steps, _ = _steps('''
[[task]]
name = "sleeper"
cpu = 0
ops = [{ op = "sleep", queue = "q" }]
[[task]]
name = "waker"
cpu = 1
ops = [{ op = "work" }, { op = "wake", queue = "q" }]
''')
    wakes = [fp for key, cpu, fp in steps if key == ("run", "waker") and ("wq", "q") in fp]
    assert wakes == [{("cpu", 1): True, ("wq", "q"): True, ("cpu", 0): True, ("live", "waker"): True}]
    sleeps = [fp for key, cpu, fp in steps if key == ("run", "sleeper") and ("wq", "q") in fp]
    assert sleeps == [{("cpu", 0): True, ("wq", "q"): True}]


def test_footprint_instrumentation_is_removed_after_the_run() -> None:
    """After a run the machine has its own lock table, PTE table and primitives back, with the run's lock state."""
    sc = load_toml_text(HEAD + '''
[[task]]
name = "t0"
cpu = 0
ops = [{ op = "spin_lock", lock = "L" }]
''', "fp.toml")
    m, w = Booted(sc, sc.config(), snapshot=False).acquire()
    locks, ptes, attrs = m.locks, m.kmap_pte_at, set(vars(m))
    FootprintSimulator(m, w, DefaultStrategy(), Recorder(), max_steps=sc.max_steps).run()
    assert m.locks is locks and type(m.locks) is dict and m.locks == {"L": "t0"}
    assert m.kmap_pte_at is ptes and type(m.kmap_pte_at) is list
    assert set(vars(m)) == attrs
    assert not m.bus.active or len(m.bus._observers) == 1  # the checker only


def test_dependent_needs_a_shared_resource_that_one_side_writes() -> None:
    """Two reads commute; a read and a write, or two writes, of one resource do not; disjoint footprints commute."""
    r = {("frame", 1): False}
    w = {("frame", 1): True}
    assert not dependent(r, dict(r))
    assert dependent(r, w) and dependent(w, r) and dependent(w, dict(w))
    assert not dependent(w, {("frame", 2): True, ("cpu", 0): True})


def test_footprint_large_page_fill_writes_its_directory_entry() -> None:
    """A TLB fill of a lowmem address mapped by a PSE large page writes that pgd entry (the walk sets its
    accessed bit there) and no PTE; a store into swapper_pg_dir through the direct map writes the entry."""
    steps, m = _steps('''
[[task]]
name = "t0"
cpu = 0
ops = [
  { op = "page_address", page = "B", as = "b" },
  { op = "load", addr = "b", size = 1 },
  { op = "store", addr = 0xc0101c00, data = [0] },
]
'''.replace("[[task]]", '[pages.B]\nzone = "normal"\n\n[[task]]', 1))
    b = next(pfn for pfn, name in m.page_names.items() if name == "B")  # type: ignore[attr-defined]
    pde = ("pde", m.swapper_pg_dir + ((0xC0000000 + (b << 12)) >> 22) * 4)  # type: ignore[attr-defined]
    load = next(fp for _k, _c, fp in steps if ("frame", b) in fp)
    assert load[pde] is True
    assert [r for r in load if r[0] == "pte"] == []
    store = next(fp for _k, _c, fp in steps if ("frame", 0x101) in fp)
    assert store[("pde", 0x101C00)] is True
