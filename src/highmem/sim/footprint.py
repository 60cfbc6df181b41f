"""Footprints: what each step of a run reads and writes, for partial-order reduction (:mod:`highmem.sim.dpor`).

A *step* is what one context does between two engine interventions: from the moment the engine
lets it run (an option taken at a choice point, or the only thing that could happen) to its next
scheduling point or until it gives up its CPU.  Its *footprint* maps every shared resource it
touched to whether it wrote it.  Two steps are *dependent* when their footprints share a
resource that one of them writes; independent steps commute, which is what the reduction uses.

The resources:

``("cpu", c)``
    everything of CPU c the engine and the kernel keep: its stack of contexts, run queue,
    pending interrupts and softirqs, interrupt flag, bottom-half and preempt counts, its TLB,
    and the checker's shadow state of the contexts on it.  *Every* step of a context on CPU c
    writes it, so the steps of one CPU stay in order in every equivalent schedule; a step that
    wakes a task of CPU c or sends it an IPI writes it too, and a ``submit_bh`` reads that of its
    device's CPU, whose state decides whether the line it readies may arrive.
``("frame", pfn)``
    the bytes of a physical page (loads, stores, memcpy).
``("pte", vpn)``
    the kernel PTE that maps virtual page ``vpn``: written by ``set_pte``/``pte_clear``, by
    every ``kmap_pte - idx`` access (``Machine.kmap_pte_at``, ``Machine.slot_pte``: a BUG_ON on
    ``pte_none`` reads it and then writes it) and by a TLB fill (the walk sets the accessed and
    dirty bits), read by a fault; a load or store through the direct map into a page of PTEs
    (the kmap and pkmap tables, lowmem's without PSE) reads or writes the PTEs it covers.
``("pde", phys)``
    the page-directory entry at physical address ``phys`` (a pgd entry, or a PAE pmd entry): read
    by every TLB fill and fault through it, written by a load or store through the direct map into
    swapper_pg_dir or a pmd page. A fill that ends at a large (PSE) page writes its entry, where
    the walk sets the accessed and dirty bits.
``("lock", name)``, ``("wq", queue)``, ``("completion", name)``
    a spin lock, a wait queue, a completion.
``("pkmap",)``
    the permanent-kmap pool (``pkmap_count``, ``page->virtual``): the steps that change it (the
    ``Kmap``, ``Kunmap`` and ``PkmapFlush`` events) write it, ``page_address`` reads it.  Every
    other access to it is made under ``kmap_lock`` (as in mm/highmem.c), so the lock orders it.
``("dev",)``
    block devices, buffer heads and bounce pools: ``submit_bh``, ``wait_on_buffer`` and every
    step of a device's interrupt handler write it; those steps also move the frames of the
    request the handler completes (its DMA).
``("sync",)``
    the conditions busy-waiters and device lines wait for (``Simulator.state_changed``, except a
    spin lock's release, which is a write of the lock its spinners read): a spinner's resumption
    and a device line's arrival read it.
``("live", task)``
    whether that task still runs (optional interrupts arrive only while one does): its exit
    writes it; an optional arrival made while a single task is left reads that task's, and so
    does the last task's exit, which ends the optional arrivals, read every other task's.
``("python",)``
    a Python scenario's own state, which the model cannot see: every step of a Python scenario
    writes it, so its steps never commute across CPUs.

States of the :class:`Recorder`: *between* steps (what the engine reads while it computes
options is nobody's access) and *open* (one step's accesses are being collected).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any
from weakref import WeakKeyDictionary

from highmem import events as ev
from highmem.hw.pagetable import NON_PAE, KernelTables, kernel_tables
from highmem.hw.physmem import PAGE_SHIFT
from highmem.kernel.context import Context, ContextKind
from highmem.kernel.machine import Machine
from highmem.sim.engine import Option, Simulator
from highmem.sim.strategy import Strategy
from highmem.sim.workload import Workload

__all__ = ["Footprint", "Step", "Recorder", "FootprintSimulator", "dependent", "option_key", "step_cost",
           "source_of", "optional_arrival"]

#: resource -> written
Footprint = dict[Hashable, bool]

_CPU = "cpu"
_LIVE = ("live",)
_SYNC = ("sync",)
_DEV = ("dev",)
_PKMAP = ("pkmap",)
_PYTHON = ("python",)


def dependent(a: Footprint, b: Footprint) -> bool:
    """Whether two footprints conflict: a shared resource that one of them writes."""
    if len(b) < len(a):
        a, b = b, a
    get = b.get
    for r, w in a.items():
        wb = get(r)
        if wb is not None and (w or wb):
            return True
    return False


def source_of(sim: Simulator, opt: Option) -> Any:
    """The interrupt or softirq source an ``irq``/``softirq`` option belongs to."""
    return (sim.irqs if opt.kind == "irq" else sim.softirqs)[(opt.name, opt.cpu)]


def optional_arrival(sim: Simulator, opt: Option) -> bool:
    """Whether ``opt`` is an interrupt or softirq arriving of its own accord (not a pending one)."""
    if opt.kind == "run":
        return False
    pending = sim.pending_irq[opt.cpu] if opt.kind == "irq" else sim.pending_softirq[opt.cpu]
    return opt.name not in pending


def step_cost(sim: Simulator, opt: Option) -> tuple[int, int]:
    """(preemptions, interrupt arrivals) that taking ``opt`` now adds to a schedule, as bounded DPOR counts them.

    A preemption is a task switched out at a scheduling point in favour of another task *of the
    same CPU* (CONFIG_PREEMPT); running a context of another CPU costs nothing, since the
    reduction, not a bound, tames interleavings across CPUs.  An interrupt is an optional arrival
    of a line that is not a device's (a pending interrupt or softirq is not optional; a device
    line arrives as often as the work submitted to it says), even one that comes when nothing
    else could run, which plain exhaustive search takes for free.  Both are facts of one CPU's
    sequence of steps, which every equivalent schedule keeps in order, so every schedule of a
    class costs the same: the bounds cut whole equivalence classes, which keeps the reduction
    sound under them (a bound on every context switch would not: Coons, Musuvathi and
    McKinley, "Bounded partial-order reduction", OOPSLA 2013).
    """
    c = opt.cpu
    st = sim.m.cpu_state[c]
    if opt.kind == "run":
        if st.stack and st.stack[-1].name != opt.name:
            return (1, 0)
        return (0, 0)
    if not optional_arrival(sim, opt) or source_of(sim, opt).ready is not None:
        return (0, 0)
    return (0, 1)


def option_key(sim: Simulator, opt: Option) -> tuple[Any, ...]:
    """What taking ``opt`` means in every schedule: the context it runs, or the interrupt (or softirq)
    instance it starts, numbered per source as the engine names handler contexts."""
    if opt.kind == "run":
        return ("run", opt.name)
    return (opt.kind, opt.name, opt.cpu, source_of(sim, opt).count + 1)


class Step:
    """One step of a run: the option key that started it, its CPU, its footprint, and the choice
    point it was taken at (None when nothing else could happen)."""

    __slots__ = ("key", "cpu", "fp", "node", "cost")

    def __init__(self, key: tuple[Any, ...], cpu: int, node: int | None, cost: tuple[int, int]) -> None:
        self.key = key
        self.cpu = cpu
        self.fp: Footprint = {(_CPU, cpu): True}
        self.node = node
        #: (preemptions, interrupts) it adds to the schedule's bounds (see step_cost)
        self.cost = cost

    def __repr__(self) -> str:
        return f"<Step {self.key} cpu{self.cpu} node={self.node} {sorted(map(str, self.fp))}>"


#: Per machine, its page tables as booted: every run of an exploration restores the same machine,
#: and with it the same tables.
_TABLES: WeakKeyDictionary[Machine, KernelTables] = WeakKeyDictionary()


def page_tables(m: Machine) -> KernelTables:
    """The kernel page tables of ``m`` (read once per machine, at its first run)."""
    t = _TABLES.get(m)
    if t is None:
        t = _TABLES[m] = kernel_tables(m.phys, m.geometry, m.swapper_pg_dir)
    return t


class Recorder:
    """Collects the steps of one run and their footprints (see the module docstring for its states).

    ``on_close(step)`` is called as each step ends.  ``pending_node`` is set by the strategy at a
    choice point: the next step to open is the one taken there.
    """

    def __init__(self, on_close: Callable[[Step], None] | None = None,
                 bounds: tuple[int, int] = (1 << 30, 1 << 30)) -> None:
        self.steps: list[Step] = []
        self.open: Step | None = None
        self.pending_node: int | None = None
        self.on_close = on_close
        self.bounds = bounds
        #: preemptions and interrupts of the steps so far
        self.cost = (0, 0)
        #: index of the first step past the bounds (None while within them)
        self.over_at: int | None = None
        #: a spin lock was just released (its state_changed() is not a ("sync",) write)
        self.lock_released = False
        #: the kernel page tables as booted (set by FootprintSimulator)
        self.tables = KernelTables(NON_PAE, 0)

    def start(self, key: tuple[Any, ...], cpu: int, cost: tuple[int, int] = (0, 0)) -> Step:
        """Open the step of ``key`` on ``cpu`` (closing the one before, if any)."""
        self.close()
        st = Step(key, cpu, self.pending_node, cost)
        self.pending_node = None
        self.open = st
        return st

    def close(self) -> None:
        st = self.open
        if st is not None:
            self.open = None
            if st.cost != (0, 0):
                self.cost = (self.cost[0] + st.cost[0], self.cost[1] + st.cost[1])
                if self.over_at is None and (self.cost[0] > self.bounds[0] or self.cost[1] > self.bounds[1]):
                    self.over_at = len(self.steps)
            self.steps.append(st)
            if self.on_close is not None:
                self.on_close(st)

    def touch(self, resource: Hashable, write: bool) -> None:
        """``resource`` was read (or written) by the open step; nothing when none is open."""
        st = self.open
        if st is not None:
            fp = st.fp
            if write:
                fp[resource] = True
            elif resource not in fp:
                fp[resource] = False

    def _walk(self, vaddr: int) -> int | None:
        """Read the directory entries a walk of ``vaddr`` goes through; the last one's address when
        it maps a large page (the walk's leaf), else None."""
        entries = self.tables.dir_entries(vaddr)
        for d in entries:
            self.touch(("pde", d), False)
        return entries[-1] if entries[-1] in self.tables.large else None

    # The bus observer: accesses that events describe.
    def __call__(self, e: Any) -> None:
        st = self.open
        if st is None:
            return
        fp = st.fp
        t = type(e)
        if t is ev.Load or t is ev.Store:
            w = t is ev.Store
            r = ("frame", e.pfn)
            if w:
                fp[r] = True
            elif r not in fp:
                fp[r] = False
            tables = self.tables
            if e.pfn in tables.pte_pages or e.pfn in tables.dir_pages:
                # Through the direct map into a page table: the entries these bytes hold.
                size = tables.geo.entry_size
                off = e.vaddr & 0xFFF
                base = tables.pte_pages.get(e.pfn)
                for k in range(off // size, (off + e.size - 1) // size + 1):
                    if base is not None:
                        self.touch(("pte", base + k), w)
                    else:
                        self.touch(("pde", (e.pfn << PAGE_SHIFT) + k * size), w)
        elif t is ev.SetPte or t is ev.PteClear or t is ev.KmapAtomic or t is ev.KunmapAtomic:
            fp[("pte", e.vaddr >> PAGE_SHIFT)] = True
        elif t is ev.TlbFill:
            # The walk reads the directory entries above the PTE, and may set the accessed and
            # dirty bits in the PTE (or in a large page's directory entry): a write.
            leaf = self._walk(e.vaddr)
            if leaf is None:
                fp[("pte", e.vaddr >> PAGE_SHIFT)] = True
            else:
                fp[("pde", leaf)] = True
        elif t is ev.Fault:
            if self._walk(e.vaddr) is None:
                self.touch(("pte", e.vaddr >> PAGE_SHIFT), False)
        elif t is ev.Kmap or t is ev.Kunmap or t is ev.PkmapFlush:
            fp[_PKMAP] = True
        elif t is ev.Bounce:
            fp[_DEV] = True


class _LockTable(dict):  # type: ignore[type-arg]
    """``Machine.locks`` while footprints are recorded: every look at a lock is an access to it."""

    rec: Recorder
    sim: Simulator

    def get(self, k: Any, default: Any = None) -> Any:
        self.rec.touch(("lock", k), False)
        return super().get(k, default)

    def __contains__(self, k: object) -> bool:
        self.rec.touch(("lock", k), False)
        return super().__contains__(k)

    def __setitem__(self, k: Any, v: Any) -> None:
        self.rec.touch(("lock", k), True)
        super().__setitem__(k, v)

    def __delitem__(self, k: Any) -> None:
        self.rec.touch(("lock", k), True)
        # The release's state_changed() that follows (only while a context spins: see
        # spinlock._release) is this lock's, whose waiters read the lock.
        if self.sim._spinning:
            self.rec.lock_released = True
        super().__delitem__(k)


class _PteTable(list):  # type: ignore[type-arg]
    """``Machine.kmap_pte_at`` while footprints are recorded: taking ``kmap_pte - idx`` is an access
    to that PTE (its readers test it and then write it)."""

    rec: Recorder
    vpns: list[int]

    def __getitem__(self, i: Any) -> Any:
        if type(i) is int and 0 <= i < len(self.vpns):
            self.rec.touch(("pte", self.vpns[i]), True)
        return super().__getitem__(i)


#: Machine methods that work on shared kernel state outside any CPU, and the resource each writes
#: (or reads) for the whole call, including the steps of its caller that begin inside it.
_GLOBAL_PRIMITIVES: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("page_address", _PKMAP, False),
    ("submit_bh", _DEV, True),
    ("wait_on_buffer", _DEV, True),
)


class FootprintSimulator(Simulator):
    """A :class:`Simulator` that records the steps of its run and their footprints in ``recorder``.

    The run and its findings are those of a plain simulator under the same strategy; what is
    added is bookkeeping.  While it runs, ``Machine.locks``, ``Machine.kmap_pte_at`` and the
    primitives of :data:`_GLOBAL_PRIMITIVES` are replaced on the machine by recording
    equivalents; the originals are back when :meth:`run` returns.
    """

    def __init__(self, m: Machine, workload: Workload, strategy: Strategy, recorder: Recorder, *,
                 max_steps: int = 200_000, python_code: bool = False) -> None:
        super().__init__(m, workload, strategy, max_steps=max_steps, python_code=python_code)
        self.rec = recorder
        #: context name -> resources of the global primitives it is inside (with their write flags)
        self._inside: dict[str, list[tuple[tuple[str, ...], bool]]] = {}
        #: device handler contexts -> the frames their DMA moves (device memory is not a CPU access)
        self._device_contexts: dict[str, Footprint] = {}
        m.subscribe(recorder)
        self._saved: dict[str, Any] = {}

    # -- the machine, instrumented for the run ---------------------------------------------
    def _instrument(self) -> None:
        m, rec = self.m, self.rec
        locks = _LockTable(m.locks)
        locks.rec = rec
        locks.sim = self
        ptes = _PteTable(m.kmap_pte_at)
        ptes.rec = rec
        ptes.vpns = [v >> PAGE_SHIFT for v in m.kmap_vaddr]
        rec.tables = page_tables(m)
        self._saved = {"locks": m.locks, "kmap_pte_at": m.kmap_pte_at}
        m.locks = locks
        m.kmap_pte_at = ptes
        inst = m.__dict__
        for name, res, write in _GLOBAL_PRIMITIVES:
            if name in inst:
                self._saved["bound:" + name] = inst[name]
            inst[name] = self._global(getattr(m, name), res, write)
        submit = inst["submit_bh"]

        def submit_bh(dev: Any, rw: str, bh: Any) -> None:
            submit(dev, rw, bh)
            # The request lets the device's line arrive on the device's CPU, if that CPU takes
            # interrupts then: that is the CPU's state, which every step of it writes.  Reading it
            # orders the request against the CPU's steps, so that a request made before a cli (or
            # a handler) there that keeps the line out is run too, where the arrival is offered.
            rec.touch((_CPU, dev.cpu), False)
        inst["submit_bh"] = submit_bh
        orig_slot_pte = m.slot_pte
        if "slot_pte" in inst:
            self._saved["bound:slot_pte"] = inst["slot_pte"]

        def slot_pte(idx: int) -> tuple[int, bytearray, int]:
            r = orig_slot_pte(idx)
            rec.touch(("pte", r[0] >> PAGE_SHIFT), True)
            return r
        inst["slot_pte"] = slot_pte

    def _restore(self) -> None:
        m = self.m
        saved = self._saved
        if not saved:
            return
        locks = m.locks
        m.locks = saved["locks"]
        m.locks.clear()
        m.locks.update(dict(locks.items()))
        m.kmap_pte_at = saved["kmap_pte_at"]
        inst = m.__dict__
        for name in [n for n, _r, _w in _GLOBAL_PRIMITIVES] + ["slot_pte"]:
            if "bound:" + name in saved:
                inst[name] = saved["bound:" + name]
            else:
                inst.pop(name, None)
        m.bus.unsubscribe(self.rec)
        self._saved = {}

    @staticmethod
    def _dma_frames(ready: Callable[[], bool]) -> Footprint:
        """The frames the handler of a device line will move: its oldest request's (a read is DMA
        into memory).  ``ready`` is the device's bound ``ready`` method."""
        dev = getattr(ready, "__self__", None)
        queue = getattr(dev, "queue", None)
        if not queue:
            return {}
        req = queue[0]
        first, last = req.phys >> PAGE_SHIFT, (req.phys + req.size - 1) >> PAGE_SHIFT
        return {("frame", pfn): req.rw == "READ" for pfn in range(first, last + 1)}

    def _global(self, fn: Callable[..., Any], res: tuple[str, ...], write: bool) -> Callable[..., Any]:
        rec, inside, m = self.rec, self._inside, self.m

        def call(*a: Any, **k: Any) -> Any:
            name = m.current.name
            stack = inside.setdefault(name, [])
            stack.append((res, write))
            rec.touch(res, write)
            try:
                return fn(*a, **k)
            finally:
                stack.pop()
                rec.touch(res, write)
        return call

    # -- steps ----------------------------------------------------------------------------------
    def _open(self, key: tuple[Any, ...], ctx_name: str | None, cpu: int,
              cost: tuple[int, int] = (0, 0)) -> None:
        st = self.rec.start(key, cpu, cost)
        fp = st.fp
        if self.python_code:
            fp[_PYTHON] = True
        if ctx_name is not None:
            for res, write in self._inside.get(ctx_name, ()):
                if write or res not in fp:
                    fp[res] = write or fp.get(res, False)
            dma = self._device_contexts.get(ctx_name)
            if dma is not None:
                fp[_DEV] = True
                for r, w in dma.items():
                    if w or r not in fp:
                        fp[r] = w or fp.get(r, False)

    def _point(self, op: str) -> None:
        self.rec.close()
        super()._point(op)
        if self.rec.open is None:
            cur = self.m.current
            self._open(("run", cur.name), cur.name, cur.cpu)

    def _apply(self, opt: Option) -> None:
        key = option_key(self, opt)
        cost = step_cost(self, opt)
        if opt.kind == "run":
            self._open(key, opt.name, opt.cpu, cost)
        else:
            self._open(key, None, opt.cpu, cost)
            src = source_of(self, opt)
            fp = self.rec.open.fp  # type: ignore[union-attr]
            if optional_arrival(self, opt) and self.live_tasks <= 1:
                # An optional arrival is possible only while a task lives: with two or more alive
                # it commutes with any one exit, with one alive it depends on that task's.
                for t in self.workload.tasks:
                    if self.contexts[t.name].state != "exited":
                        fp.setdefault((_LIVE[0], t.name), False)
            if src.ready is not None:
                fp.setdefault(_SYNC, False)
        super()._apply(opt)
        self.rec.close()

    def _enter_irq(self, c: int, name: str) -> Context:
        src = self.irqs[(name, c)]
        if src.ready is not None:
            # A device's handler, however it was delivered: its steps move the device's state and
            # the frames of the request it completes.
            dma = self._dma_frames(src.ready)
            self._device_contexts[f"{name}#{src.count + 1}"] = dma
            self.rec.touch(_DEV, True)
            for r, w in dma.items():
                self.rec.touch(r, w)
        return super()._enter_irq(c, name)

    def _context_done(self, ctx: Context) -> None:
        if ctx.kind is ContextKind.TASK:
            # Each task's own flag: exits commute with each other, not with an optional arrival...
            self.rec.touch((_LIVE[0], ctx.name), True)
            if self.live_tasks == 1 and any(src.max < 0 or src.fired < src.max for src in self._optional):
                # ...except the last, which ends every optional arrival: had another task exited
                # after it, arrivals were possible in between. Being last reads the others' flags.
                for t in self.workload.tasks:
                    if t.name != ctx.name:
                        self.rec.touch((_LIVE[0], t.name), False)
        super()._context_done(ctx)

    # -- the engine's own shared state, touched by the kernel's requests -------------------------
    def schedule(self, ctx: Context) -> None:
        q = ctx.data.get("queue")
        if q is not None:
            self.rec.touch(("wq", q), True)
        super().schedule(ctx)

    def prepare_to_wait(self, ctx: Context, queue: str) -> None:
        self.rec.touch(("wq", queue), True)
        super().prepare_to_wait(ctx, queue)

    def finish_wait(self, ctx: Context, queue: str) -> None:
        self.rec.touch(("wq", queue), True)
        super().finish_wait(ctx, queue)

    def wake_up(self, ctx: Context, queue: str) -> int:
        self.rec.touch(("wq", queue), True)
        for t in self.waitq.get(queue, ()):
            self.rec.touch((_CPU, t.cpu), True)
        return super().wake_up(ctx, queue)

    def waitqueue_active(self, queue: str) -> bool:
        self.rec.touch(("wq", queue), False)
        return super().waitqueue_active(queue)

    def raise_irq(self, ctx: Context, irq: str, cpu: int) -> None:
        self.rec.touch((_CPU, cpu), True)
        super().raise_irq(ctx, irq, cpu)

    def raise_softirq(self, ctx: Context, name: str, cpu: int) -> None:
        self.rec.touch((_CPU, cpu), True)
        super().raise_softirq(ctx, name, cpu)

    def send_ipi(self, ctx: Context, cpu: int, func: Callable[[Machine], None]) -> None:
        self.rec.touch((_CPU, cpu), True)
        super().send_ipi(ctx, cpu, func)

    def spin(self, ctx: Context, cond: Callable[[], bool], what: str) -> None:
        self.rec.touch(_SYNC, False)
        super().spin(ctx, cond, what)
        # Resumed: a new step, which found the condition true.
        self.rec.touch(_SYNC, False)

    def state_changed(self) -> None:
        if self.rec.lock_released:
            self.rec.lock_released = False
        else:
            self.rec.touch(_SYNC, True)
        super().state_changed()

    def try_completion(self, name: str) -> bool:
        self.rec.touch(("completion", name), True)
        return super().try_completion(name)

    def complete(self, ctx: Context, name: str) -> None:
        self.rec.touch(("completion", name), True)
        queue = f"completion:{name}"
        self.rec.touch(("wq", queue), True)
        for t in self.waitq.get(queue, ())[:1]:
            self.rec.touch((_CPU, t.cpu), True)
        super().complete(ctx, name)

    def run(self) -> Any:
        self._instrument()
        try:
            return super().run()
        finally:
            self.rec.close()
            self._restore()
