"""Prototypes of the proposed src changes, applied by monkeypatching at run time, and what they save.

``python bench/prototypes.py`` - an investigation tool, not part of run.py.
Nothing under src/ is modified: each proposal replaces a function of the
running process with a changed copy (written against src at commit 4450c3f;
if src changes, these copies may no longer match it), and is measured side by
side with the unpatched code and the floor, as the benchmarks are.

P1  sim/checker.py + hw/cpu.py + events.py: an access hook.  When the only
    observer is the checker, ``CPU.load``/``CPU.store`` call
    ``checker.on_access(cpu, context, vaddr, size, pfn, hit, cls)`` with raw
    arguments instead of building a ``Load``/``Store`` NamedTuple (about a
    floor, even with ``tuple.__new__``) and dispatching it through
    ``Checker.__call__`` (a dict lookup and a second call).  The event is
    built only when the access must be judged (outside the fast "held here,
    same frame" case).
P2  kernel/machine.py ``Machine.load`` / hw/cpu.py ``CPU.load``: the TLB-hit,
    in-page fast path inlined into ``Machine.load`` (one Python call per
    load instead of two), and loads served from a per-frame ``memoryview``
    (``mv[a:b].tobytes()``: one copy instead of ``bytes(bytearray[a:b])``'s
    two).  Here the views live in a dict beside ``PhysicalMemory.frames``.
P3  hw/physmem.py / kernel/boot.py ``set_lowmem_virtual``: map ``page->virtual``
    of the lowmem frames copy-on-write from one memfd per machine size
    (``mmap(fd, MAP_PRIVATE)``) instead of copying 0.9 MB into fresh
    anonymous memory on every boot (page faults and zeroing on every boot).
"""

from __future__ import annotations

import gc
import importlib
import mmap
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import bench_step
import floor
import highmem
from highmem import events as ev
from highmem.hw import cpu as hw_cpu
from highmem.hw.physmem import PAGE_MASK
from highmem.kernel.machine import Machine
from highmem.profiles import make_config
from highmem.scenarios import load_builtin
from highmem.sim import checker as sim_checker
from highmem.sim import engine as sim_engine
from highmem.sim.explore import explore
from highmem.sim.strategy import DefaultStrategy

boot_mod = importlib.import_module("highmem.kernel.boot")

Patch = list[tuple[Any, str, Any]]

_END = 1 << 32
_OFF = 4095
_ZERO = bytes(4096)
_Load = ev.Load
_tnew = tuple.__new__


# -- P1: raw-argument access hook for the checker -----------------------------------------------
_HOOK: list[Callable[..., None] | None] = [None]


def _cpu_load_p1(self: Any, vaddr: int, size: int) -> bytes:
    if vaddr < 0 or size <= 0 or vaddr + size > _END or type(vaddr) is not int:
        hw_cpu.check_range(vaddr, size)
    off = vaddr & _OFF
    if off + size > 4096:
        return b"".join(self.load(a, n) for a, n in hw_cpu._pieces(vaddr, size))
    e = self.tlb.get(vaddr >> 12)
    hit = e is not None
    if e is None:
        e = self._fill(vaddr, False)
    fr = self.mem.frames.get(e[0])
    data = _ZERO[:size] if fr is None else bytes(fr[off : off + size])
    if self.bus.active:
        hook = _HOOK[0]
        if hook is not None:
            hook(self.id, self.context, vaddr, size, e[0], hit, _Load)
        else:
            self.bus.emit(_tnew(_Load, (self.id, self.context, vaddr, size, e[0], hit)))
    return data


def _on_access(self: Any, cpu: int, context: str, vaddr: int, size: int, pfn: int, hit: bool, cls: Any) -> None:
    page = vaddr & PAGE_MASK
    if not self.kmap_lo <= page < self.kmap_hi:
        return
    held = self.held.get(context)
    mp = held.get(page) if held is not None else None
    if mp is not None and pfn == mp.pfn:
        return
    self._judge_access(cls(cpu, context, vaddr, size, pfn, hit), page, mp)


_sim_init = sim_engine.Simulator.__init__


def _sim_init_p1(self: Any, *args: Any, **kwargs: Any) -> None:
    _sim_init(self, *args, **kwargs)
    checker = self.checker
    _HOOK[0] = checker.on_access


P1: Patch = [(hw_cpu.CPU, "load", _cpu_load_p1), (sim_checker.Checker, "on_access", _on_access),
             (sim_engine.Simulator, "__init__", _sim_init_p1)]


# -- P2: Machine.load fast path (+ memoryview frames) ------------------------------------------------
_VIEWS: dict[int, memoryview] = {}


def _machine_load_p2(self: Any, vaddr: int, size: int) -> bytes:
    sp = self.sched_point
    if sp is not None:
        sp("load")
    cpu = self.cpus[self.current.cpu]
    off = vaddr & _OFF
    if type(vaddr) is not int or vaddr < 0 or size <= 0 or off + size > 4096 or vaddr + size > _END:
        return cpu.load(vaddr, size)
    e = cpu.tlb.get(vaddr >> 12)
    if e is None:
        return cpu.load(vaddr, size)
    fr = cpu.mem.frames.get(e[0])
    data = _ZERO[:size] if fr is None else bytes(fr[off : off + size])
    if cpu.bus.active:
        hook = _HOOK[0]  # with P1: the checker's access hook
        if hook is not None:
            hook(cpu.id, cpu.context, vaddr, size, e[0], True, _Load)
        else:
            cpu.bus.emit(_tnew(_Load, (cpu.id, cpu.context, vaddr, size, e[0], True)))
    return data


def _machine_load_p2_mv(self: Any, vaddr: int, size: int) -> bytes:
    """As _machine_load_p2, reading through a memoryview of the frame (one copy instead of two)."""
    sp = self.sched_point
    if sp is not None:
        sp("load")
    cpu = self.cpus[self.current.cpu]
    off = vaddr & _OFF
    if type(vaddr) is not int or vaddr < 0 or size <= 0 or off + size > 4096 or vaddr + size > _END:
        return cpu.load(vaddr, size)
    e = cpu.tlb.get(vaddr >> 12)
    if e is None:
        return cpu.load(vaddr, size)
    fr = _VIEWS.get(e[0])
    data = _ZERO[:size] if fr is None else fr[off : off + size].tobytes()
    if cpu.bus.active:
        cpu.bus.emit(_Load(cpu.id, cpu.context, vaddr, size, e[0], True))
    return data


P2: Patch = [(Machine, "load", _machine_load_p2)]


# -- P3: copy-on-write page->virtual ------------------------------------------------------------------
_FDS: dict[tuple[int, int], int] = {}
_set_lowmem_virtual = boot_mod.set_lowmem_virtual


def _set_lowmem_virtual_p3(m: Any) -> None:
    n, size = m.max_low_pfn, max(m.max_pfn * 4, 4)
    fd = _FDS.get((n, size))
    if fd is None:
        _set_lowmem_virtual(m)  # builds and caches the blob
        fd = os.memfd_create("highmem-virtual")
        os.ftruncate(fd, size)
        os.pwrite(fd, boot_mod._VIRTUAL_BLOBS[n], 0)
        _FDS[(n, size)] = fd
    m.mem_map.virtual = memoryview(mmap.mmap(fd, size, flags=mmap.MAP_PRIVATE)).cast("I")


P3: Patch = [(boot_mod, "set_lowmem_virtual", _set_lowmem_virtual_p3)]


# -- running patched code -------------------------------------------------------------------------
def patched(patch: Patch, fn: Callable[[], Any]) -> Any:
    saved = [(obj, name, obj.__dict__.get(name, _MISSING)) for obj, name, _ in patch]
    try:
        for obj, name, new in patch:
            setattr(obj, name, new)
        return fn()
    finally:
        for obj, name, old in saved:
            if old is _MISSING:
                delattr(obj, name)
            else:
                setattr(obj, name, old)
        _HOOK[0] = None


_MISSING = object()


def step_costs(repeat: int = floor.REPEAT, n: int = bench_step.N) -> dict[str, float]:
    """ns per step of bench_step's main subject under each patch set, and the floor, interleaved."""
    variants: dict[str, Patch] = {"current src": [], "P1 access hook": P1, "P1 + P2 (fused load)": P1 + P2}
    sc = bench_step.load_scenario(n)
    fl = floor._timer(floor.FLOOR_STMT, floor.floor_globals())
    best = dict.fromkeys([*variants, "floor"], float("inf"))
    for _ in range(repeat):
        for name, patch in variants.items():
            dt, res = patched(patch, lambda: bench_step.time_run(sc, DefaultStrategy()))
            best[name] = min(best[name], dt / res.steps * 1e9)
        best["floor"] = min(best["floor"], fl.timeit(200_000) / 200_000 * 1e9)
    return best


def bare_costs(number: int = 200_000) -> dict[str, float]:
    """ns of m.load(v, 4) with observers off: current, P2 fused, P2 fused + memoryview; and the floor."""
    g = floor.floor_globals()
    stmts = {}
    for name, fn in (("current src", Machine.load), ("P2 fused", _machine_load_p2),
                     ("P2 fused + memoryview", _machine_load_p2_mv)):
        m = highmem.boot(cpus=1, memory="2G")
        page = m.alloc_highpage()
        m.enter(highmem.kernel.context.Context("t", highmem.kernel.context.ContextKind.TASK, 0))
        v = m.kmap_atomic(page, m.km_type.KM_USER0)
        m.store(v, b"bare")
        if name.endswith("memoryview"):
            _VIEWS.clear()
            _VIEWS.update((pfn, memoryview(fr)) for pfn, fr in m.phys.frames.items())
        key = f"m{len(stmts)}"
        m.__class__ = type(f"Machine_{key}", (Machine,), {"load": fn})
        assert m.load(v, 4) == b"bare"
        g[key], g["v"] = m, v
        stmts[name] = f"{key}.load(v, 4)"
    stmts["floor"] = floor.FLOOR_STMT
    return floor.compare(stmts, number, globals=g)


def boot_and_explore(boots: int = 200, schedules: int = 300, repeat: int = 3) -> dict[str, tuple[float, float]]:
    """{variant: (mean boot seconds, explore schedules/s)} for current src and P3, interleaved."""
    cfg = make_config("linux-2.4", cpus=2, memory="2G")
    sc = load_builtin("irq-uses-user-slot")
    scfg = sc.config()
    res: dict[str, tuple[float, float]] = {}

    def measure() -> tuple[float, float]:
        gc.collect()
        ts = []
        for _ in range(boots):
            t0 = time.perf_counter()
            Machine(cfg)
            ts.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        explore(sc, scfg, strategy="random", schedules=schedules, do_shrink=False)
        return statistics.mean(ts), schedules / (time.perf_counter() - t0)

    for _ in range(repeat):
        for name, patch in (("current src", []), ("P3 CoW page->virtual", P3)):
            b, r = patched(patch, measure)
            old = res.get(name, (float("inf"), 0.0))
            res[name] = (min(old[0], b), max(old[1], r))
    return res


def main() -> None:
    st = step_costs()
    fl = st.pop("floor")
    print(f"step, checker on (bench_step main subject); floor {floor.fmt_ns(fl)}")
    for k, v in st.items():
        print(f"  {k:28s} {floor.fmt_ns(v):>9s}  {v / fl:5.2f}x floor  {v / st['current src'] - 1:+.0%} vs current")
    bare = bare_costs()
    fl = bare.pop("floor")
    print(f"\nmachine op m.load, observers off; floor {floor.fmt_ns(fl)}")
    for k, v in bare.items():
        print(f"  {k:28s} {floor.fmt_ns(v):>9s}  {v / fl:5.2f}x floor")
    be = boot_and_explore()
    print("\nboot (2 CPUs, 2 GiB; mean of 200) and explore irq-uses-user-slot, random, 300 schedules (best of 3)")
    for k, (b, r) in be.items():
        print(f"  {k:28s} boot {floor.fmt_ns(b * 1e9):>9s}  explore {r:6.0f} schedules/s")


if __name__ == "__main__":
    main()
