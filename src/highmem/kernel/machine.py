"""A booted machine: the hardware and the kernel state of one profile.

:class:`Machine` is what every other layer works on.  It owns the physical
memory, ``mem_map``, the CPUs with their TLBs, swapper_pg_dir, the fixmap,
the observer bus and the per-CPU context stacks, and exposes the kernel's
primitives as methods (``kmap_atomic``, ``kunmap_atomic``, loads, stores).

Every primitive runs in the *current* context (``current``); its CPU is
``smp_processor_id()``.  Outside a scheduler, code runs as a task on CPU 0
(``init``) unless wrapped in :meth:`Machine.process`.  Each primitive first
calls ``sched_point`` when one is installed: that is where the engine may
switch to another context.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Callable, Iterator

from highmem.errors import HighmemError, PageFault
from highmem.events import EventBus
from highmem.hw.cpu import CPU
from highmem.hw.pagetable import __PAGE_KERNEL as _PAGE_KERNEL_NOGLOBAL
from highmem.hw.pagetable import _PAGE_GLOBAL, NON_PAE, PAE
from highmem.hw.physmem import PAGE_SHIFT, PAGE_SIZE, MemMap, Page, PhysicalMemory, Zone
from highmem.kernel import args as _args
from highmem.kernel import boot as _boot
from highmem.kernel import bounce as _bounce
from highmem.kernel import highmem as _highmem
from highmem.kernel import pkmap as _pkmap
from highmem.kernel import sched as _sched
from highmem.kernel import smp as _smp
from highmem.kernel import spinlock as _spinlock
from highmem.kernel.args import ADDR_END, MAX_ACCESS
from highmem.kernel.config import KernelConfig
from highmem.kernel.context import Context, ContextKind, CpuState
from highmem.kernel.fixmap import Fixmap
from highmem.kernel.kmap_types import km_type_for
from highmem.kernel.page_alloc import PageAllocator
from highmem.kernel.vaddr import VirtAddr

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Machine"]



class Machine:
    """A simulated SMP i386 machine running one modelled kernel.

    States: *booted* (after construction; every CPU online, TLBs empty,
    kmap slots free) and then whatever the primitives make of it.  User
    mistakes raise :class:`~highmem.errors.HighmemError` before any state
    changes; kernel BUGs raise :class:`~highmem.errors.KernelBUG`.
    """

    sched_point: Callable[[str], None] | None
    engine: _sched.Engine | None

    def __init__(self, config: KernelConfig) -> None:
        self.config = config
        opts = config.options
        self.bus = EventBus()
        self.boot_log: list[str] = []
        self.sched_point = None
        self.engine = None
        #: CONFIG_PREEMPT: the scheduler may preempt a task whose preempt count is 0
        self.preemptible = False
        #: profile hooks run when a task leaves / re-enters its CPU (5.11: kmap_local save/restore)
        self.sched_out_hook: Callable[[Machine, Context], None] | None = None
        self.sched_in_hook: Callable[[Machine, Context], None] | None = None
        #: bumped whenever a CPU's interrupt flag or bottom-half count changes
        self.epoch = 0
        #: what a scenario calls its pages (frame number -> name), for messages only
        self.page_names: dict[int, str] = {}
        #: spin locks held: lock name -> holder's context name
        self.locks: dict[str, str] = {}
        #: how many times flush_tlb_all() ran (every CPU's TLB)
        self.tlb_flush_all_count = 0
        self.DEBUG_HIGHMEM = opts["DEBUG_HIGHMEM"]
        #: CONFIG_X86_INVLPG (2.4; every later profile has invlpg): False makes __flush_tlb_one reload CR3
        #: on a CPU without PGE
        self.X86_INVLPG = opts.get("X86_INVLPG", True)
        self.geometry = PAE if opts["X86_PAE"] else NON_PAE
        self.pte_size = self.geometry.entry_size
        self.pte_struct = self.geometry.struct
        if config.generation is None:
            raise HighmemError("this KernelConfig names no kernel profile: build it with highmem.make_config")
        self.profile = config.generation
        prof = self.profile
        self.km_type = km_type_for(prof.km_type_names(config), f"{prof.version}'s enum km_type")
        #: Slots per CPU: KM_TYPE_NR (KM_MAX_IDX for kmap_local generations).
        self.KM_TYPE_NR = prof.slots_per_cpu(config)
        self.NR_CPUS = config.NR_CPUS
        layout = prof.fixmap(config, self.KM_TYPE_NR)
        self.fixmap = Fixmap(layout, prof.FIXADDR_TOP)
        self.FIXADDR_TOP = self.fixmap.FIXADDR_TOP
        self.FIXADDR_START = self.fixmap.FIXADDR_START
        self.FIX_KMAP_BEGIN = self.fixmap.FIX_KMAP_BEGIN
        self.FIX_KMAP_END = self.fixmap.FIX_KMAP_END
        self.PAGE_OFFSET = _boot.PAGE_OFFSET
        #: FIX_KMAP_BEGIN as a plain int (0 without HIGHMEM, when no slot exists).
        self.kmap_fixmap_base: int = self.FIX_KMAP_BEGIN or 0
        self.HIGHMEM = opts["HIGHMEM"]
        self.LAST_PKMAP = 512 if opts["X86_PAE"] else 1024
        if config.last_pkmap is not None:
            # Departure from Linux: LAST_PKMAP is a compile-time constant (1024, or 512
            # with PAE); the model lets a scenario shrink it so that the pool can be
            # exhausted or made to wrap with a handful of tasks.
            self.LAST_PKMAP = config.last_pkmap
        self.PKMAP_BASE, vmalloc_end, self.MAXMEM = prof.areas(config, layout, 512 if opts["X86_PAE"] else 1024)
        self.kmap_prot = _PAGE_KERNEL_NOGLOBAL | (_PAGE_GLOBAL if config.cpu_has_pge else 0)
        self.kmap_pte = 0
        self.pkmap_page_table = 0
        self.swapper_pg_dir = 0
        self.max_pfn = self.max_low_pfn = self.highstart_pfn = 0
        self.bootmem_end_pfn = 0

        _boot.boot_memory(self)
        self.mem_map = MemMap(self.max_pfn, self.max_low_pfn, _boot.MAX_DMA_ADDRESS_PFN)
        self.mem_map.highstart_pfn = self.highstart_pfn
        self.phys = PhysicalMemory(self.max_pfn)
        _boot.pagetable_init(self)
        _boot.kmap_init(self)
        _boot.set_lowmem_virtual(self)
        #: ``highmem_start_page = mem_map + highstart_pfn`` (one past the end without highmem).
        self.highmem_start_page = Page(self.mem_map, self.highstart_pfn)
        self.high_memory = self.PAGE_OFFSET + (self.max_low_pfn << PAGE_SHIFT)
        self.VMALLOC_START = prof.extra["vmalloc_start"](self.high_memory)
        self.VMALLOC_END = vmalloc_end
        nslots = self.KM_TYPE_NR * self.NR_CPUS if self.FIX_KMAP_BEGIN is not None else 0
        #: ``__fix_to_virt(FIX_KMAP_BEGIN + idx)`` for every slot index (compile-time constants in C).
        self.kmap_vaddr: list[VirtAddr] = [
            VirtAddr(self.fixmap.fix_to_virt_unchecked(self.kmap_fixmap_base + i))
            for i in range(nslots)
        ]
        #: Where the PTE ``kmap_pte - idx`` of every slot lives: (page-table frame, byte offset).
        #: Derived once from kmap_pte, as the compiler folds ``kmap_pte - idx`` for a constant idx.
        self.kmap_pte_at: list[tuple[bytearray, int]] = []
        for i in range(nslots):
            ptep = self.kmap_pte - i * self.pte_size
            self.kmap_pte_at.append((self.phys.frames[ptep >> PAGE_SHIFT], ptep & 0xFFF))
        self.cpus = [CPU(i, self.phys, self.geometry, self.swapper_pg_dir, self.bus, config.cpu_has_pge)
                     for i in range(config.cpus)]
        self.cpu_state = [CpuState(i) for i in range(config.cpus)]
        #: each CPU's bound load method (the hot path of Machine.load)
        self._cpu_load = [cpu.load for cpu in self.cpus]
        self.allocator = PageAllocator(self.mem_map, self.bootmem_end_pfn)
        self.pkmap = _pkmap.PkmapPool(self.LAST_PKMAP, self.PKMAP_BASE)
        self.bounce = _bounce.BouncePools()
        _bounce.init_emergency_pool(self)
        self._init_task = Context("init", ContextKind.TASK, 0)
        self._init_task.state = "running"
        self.current: Context = self._init_task
        self.cpus[0].context = self._init_task.name
        prof.install(self)
        _guard_named_primitives(self)

    def __repr__(self) -> str:
        return (f"<Machine {self.config.profile} {self.config.cpus}/{self.NR_CPUS} CPUs "
                f"{self.max_pfn << PAGE_SHIFT >> 20} MiB {self.geometry.name}>")

    # -- kernel primitives (mm/highmem.c, include/asm-i386/highmem.h) ----------
    kmap_atomic = _highmem.kmap_atomic
    kunmap_atomic = _highmem.kunmap_atomic

    def page_address(self, page: Page) -> VirtAddr:
        """``page_address(page)``: ``page->virtual`` (0 for an unmapped high page). Any context."""
        if (page.__class__ is not Page or page.mem_map is not self.mem_map or page.pfn.__class__ is not int
                or not 0 <= page.pfn < self.max_pfn):
            # Only a page check_page could refuse is checked (it returns every other as it is).
            page = self.check_page(page)
        # _highmem.page_address(self, page) with the direct map's case of MemMap.get_virtual, inlined
        # (VirtAddr() is the identity at run time).
        mem_map = self.mem_map
        pfn = page.pfn
        if pfn < mem_map.direct_map_end:
            return mem_map.direct_map_base + (pfn << PAGE_SHIFT)  # type: ignore[return-value]
        return mem_map.get_virtual(pfn)  # type: ignore[return-value]

    def PageHighMem(self, page: Page) -> bool:
        """``PageHighMem(page)``: whether ``page`` lies above the direct map. Any context."""
        return _highmem.PageHighMem(self, self.check_page(page))

    # -- interrupts, bottom halves, scheduling (kernel/sched.c, asm-i386/system.h) --
    cli = _sched.cli
    sti = _sched.sti
    save_flags = _sched.save_flags
    restore_flags = _sched.restore_flags
    local_irq_save = _sched.local_irq_save
    local_irq_restore = _sched.local_irq_restore
    local_bh_disable = _sched.local_bh_disable
    local_bh_enable = _sched.local_bh_enable
    in_interrupt = _sched.in_interrupt
    in_irq = _sched.in_irq
    in_softirq = _sched.in_softirq
    schedule = _sched.schedule
    sleep_on = _sched.sleep_on
    wake_up = _sched.wake_up
    do_exit = _sched.do_exit
    raise_irq = _sched.raise_irq
    raise_softirq = _sched.raise_softirq
    wait_for_completion = _sched.wait_for_completion
    complete = _sched.complete

    def bind(self, name: str, fn: Callable[..., Any]) -> None:
        """Make ``fn`` this machine's primitive ``name`` (a profile's implementation)."""
        setattr(self, name, types.MethodType(fn, self))

    def smp_processor_id(self) -> int:
        """The CPU the current context runs on. Any context."""
        return self.current.cpu

    def load(self, vaddr: int, size: int) -> bytes:
        """Kernel-mode load of ``size`` bytes at ``vaddr`` on this CPU. Any context."""
        if type(vaddr) is not int or type(size) is not int or not 0 < size <= MAX_ACCESS:
            _args.check_access("load", vaddr, size)
        if self.sched_point is not None:
            self.sched_point("load")
        return self._cpu_load[self.current.cpu](vaddr, size)

    def store(self, vaddr: int, data: bytes) -> None:
        """Kernel-mode store of ``data`` at ``vaddr`` on this CPU. Any context."""
        if data.__class__ is not bytes or len(data) > MAX_ACCESS:
            # check_data returns bytes within the limit as they are.
            data = _args.check_data("store", data)
        if type(vaddr) is not int or not data:
            _args.check_access("store", vaddr, len(data))
        if self.sched_point is not None:
            self.sched_point("store")
        self.cpus[self.current.cpu].store(vaddr, data)

    def memcpy(self, dst: int, src: int, size: int) -> None:
        """``memcpy(dst, src, size)`` through this CPU's TLB: one step. Any context."""
        if (type(dst) is not int or type(src) is not int or type(size) is not int or not 0 < size <= MAX_ACCESS
                or dst < 0 or src < 0 or dst + size > ADDR_END or src + size > ADDR_END):
            # Only a call the checks could refuse is checked (they accept every other).
            _args.check_access("memcpy", dst, size)
            _args.check_access("memcpy", src, size)
        if self.sched_point is not None:
            self.sched_point("memcpy")
        self.cpus[self.current.cpu].copy(dst, src, size)

    def flush_tlb_one(self, vaddr: int) -> None:
        """``__flush_tlb_one(vaddr)``: drop this CPU's TLB entry for ``vaddr`` (a CR3 reload with
        X86_INVLPG=n). Any context."""
        _args.check_vaddr("flush_tlb_one", "vaddr", vaddr)
        if self.sched_point is not None:
            self.sched_point("__flush_tlb_one")
        _highmem.flush_tlb_one(self, self.current.cpu, vaddr)

    def local_flush_tlb_all(self) -> None:
        """``__flush_tlb_all()`` on this CPU only, global entries included. Any context."""
        if self.sched_point is not None:
            self.sched_point("__flush_tlb_all")
        self.cpus[self.current.cpu].flush_tlb_all()

    flush_tlb_all = _smp.flush_tlb_all
    smp_call_function = _smp.smp_call_function

    # -- permanent kmaps and spin locks (mm/highmem.c, spinlock.h) ---------------
    kmap = _pkmap.kmap
    kmap_nonblock = _pkmap.kmap_nonblock
    kunmap = _pkmap.kunmap
    submit_bh = _bounce.submit_bh
    wait_on_buffer = _bounce.wait_on_buffer
    spin_lock = _spinlock.spin_lock
    spin_unlock = _spinlock.spin_unlock
    spin_lock_irq = _spinlock.spin_lock_irq
    spin_unlock_irq = _spinlock.spin_unlock_irq
    spin_lock_irqsave = _spinlock.spin_lock_irqsave
    spin_unlock_irqrestore = _spinlock.spin_unlock_irqrestore

    def stats(self) -> dict[str, int]:
        """The statistics users ask for: pkmap use, global TLB flushes, bouncing."""
        return {
            "pkmap_in_use": self.pkmap.in_use,
            "pkmap_high_water": self.pkmap.high_water,
            "pkmap_waits": self.pkmap.waits,
            "pkmap_wraps": self.pkmap.wraps,
            "global_tlb_flushes": self.tlb_flush_all_count,
            "bounce_pages_used": self.bounce.bounced,
            "bounce_pool_allocs": self.bounce.pool_allocs,
            "emergency_pool_low_water": self.bounce.low_water,
        }

    # -- pages -------------------------------------------------------------------
    def page(self, pfn: int) -> Page:
        """The ``struct page`` of frame ``pfn`` (``mem_map + pfn``)."""
        if isinstance(pfn, bool) or not isinstance(pfn, int):
            raise HighmemError(f"page frame number {pfn!r} is not an integer")
        return self.mem_map[int(pfn)]

    def check_page(self, page: Any) -> Page:
        """``page`` as a page of this machine, or a one-sentence error."""
        if isinstance(page, Page):
            if page.mem_map is not self.mem_map:
                pfn = f"{page.pfn:#x}" if type(page.pfn) is int else repr(page.pfn)
                raise HighmemError(f"page {pfn} belongs to another machine")
            if type(page.pfn) is not int or not 0 <= page.pfn < self.max_pfn:
                # A Page made by hand: there is no struct page beyond mem_map, nothing to map.
                raise HighmemError(f"page frame {page.pfn!r} does not exist: this machine has frames 0 to "
                                   f"{self.max_pfn - 1:#x}")
            return page
        raise HighmemError(f"{page!r} is not a struct page: pass a Page from machine.page() or alloc_page()")

    def alloc_page(self, gfp_mask: str = "GFP_KERNEL") -> Page | None:
        """``alloc_page(gfp_mask)``; None when no zone of the mask's list has a free frame."""
        _args.check_name("alloc_page", "gfp_mask", gfp_mask)
        return self.allocator.alloc_page(gfp_mask)

    def alloc_highpage(self) -> Page:
        """A page from ZONE_HIGHMEM (``alloc_page(GFP_HIGHUSER)`` that must land high)."""
        page = self.allocator.alloc_page("GFP_HIGHUSER")
        if page is None or page.zone is not Zone.ZONE_HIGHMEM:
            raise HighmemError("this machine has no free high memory: give it more than 896 MiB with HIGHMEM=y")
        return page

    def page_bytes(self, page: Page, offset: int = 0, size: int = 4096) -> bytes:
        """The bytes of ``page`` in physical memory (no CPU, no TLB: the RAM's own view)."""
        page = self.check_page(page)
        offset = _args.check_int("page_bytes", "offset", offset, 0, PAGE_SIZE)
        size = _args.check_int("page_bytes", "size", size, 0, PAGE_SIZE - offset + 1)
        return self.phys.read((page.pfn << PAGE_SHIFT) + offset, size)

    # -- contexts -----------------------------------------------------------------
    @contextlib.contextmanager
    def process(self, cpu: int = 0, name: str = "task") -> Iterator[Context]:
        """Run the body as process context (a task) on ``cpu``.

        The task is pushed on the CPU's context stack and becomes ``current``
        for the duration; the previous current context is restored after.
        """
        if isinstance(cpu, bool) or not isinstance(cpu, int) or not 0 <= cpu < len(self.cpus):
            raise HighmemError(f"CPU {cpu!r} is not online: this machine has CPUs 0 to {len(self.cpus) - 1}")
        _args.check_name("process", "name", name)
        task = Context(name, ContextKind.TASK, cpu)
        prev = self.current
        self.enter(task)
        try:
            yield task
        finally:
            self.leave(task)
            self.current = prev
            self.cpus[prev.cpu].context = prev.name

    def enter(self, ctx: Context) -> None:
        """Make ``ctx`` run on its CPU (push it on the CPU's stack; it becomes current)."""
        self.cpu_state[ctx.cpu].stack.append(ctx)
        ctx.state = "running"
        self.current = ctx
        self.cpus[ctx.cpu].context = ctx.name

    def leave(self, ctx: Context) -> None:
        """Take ``ctx`` off its CPU's stack (it must be on top)."""
        st = self.cpu_state[ctx.cpu].stack
        if st and st[-1] is ctx:
            st.pop()
        ctx.state = "exited"
        self.cpus[ctx.cpu].context = st[-1].name if st else f"cpu{ctx.cpu}"

    # -- observers ------------------------------------------------------------------
    def subscribe(self, observer: Callable[[Any], None]) -> Callable[[Any], None]:
        """Add an observer of every event (see :mod:`highmem.events`)."""
        return self.bus.subscribe(observer)

    def kmap_local_page(self, page: Page) -> int:
        """``kmap_local_page``: exists from Linux 5.11 (this profile lacks it)."""
        raise HighmemError(f"kmap_local_page does not exist in profile {self.config.profile}: it came in Linux "
                           "5.11; use --profile linux-5.11 or kmap_atomic")

    def kunmap_local(self, addr: int) -> None:
        """``kunmap_local``: exists from Linux 5.11 (this profile lacks it)."""
        raise HighmemError(f"kunmap_local does not exist in profile {self.config.profile}: it came in Linux "
                           "5.11; use --profile linux-5.11 or kunmap_atomic")

    def kmap_atomic_to_page(self, ptr: int) -> Page:
        """``kmap_atomic_to_page``: exists in 2.6 (this profile lacks it)."""
        raise HighmemError(f"kmap_atomic_to_page does not exist in profile {self.config.profile}: it came in "
                           "Linux 2.6; use --profile linux-2.6")

    def slot_pte(self, idx: int) -> tuple[int, bytearray, int]:
        """(vaddr, page-table frame, offset) of kmap slot ``idx``: ``__fix_to_virt(FIX_KMAP_BEGIN + idx)``
        and the PTE ``kmap_pte - idx``, for any idx, even outside FIX_KMAP_BEGIN..END (as C computes it)."""
        if 0 <= idx < len(self.kmap_pte_at):
            frame, off = self.kmap_pte_at[idx]
            return self.kmap_vaddr[idx], frame, off
        ptep = self.kmap_pte - idx * self.pte_size
        if not 0 <= ptep < self.max_low_pfn << PAGE_SHIFT:
            # kmap_pte - idx is a pointer into the direct map; this far from the kmap page table it
            # leaves lowmem, and the kernel's write through it faults (no fixup: an Oops).
            raise PageFault((self.PAGE_OFFSET + ptep) & 0xFFFFFFFF, self.current.cpu, True, "pgd")
        return self.slot_vaddr(idx), self.phys.frame(ptep >> PAGE_SHIFT), ptep & 0xFFF

    def slot_vaddr(self, idx: int) -> int:
        """``__fix_to_virt(FIX_KMAP_BEGIN + idx)`` for any idx, without touching its PTE."""
        if 0 <= idx < len(self.kmap_vaddr):
            return self.kmap_vaddr[idx]
        return self.fixmap.fix_to_virt_unchecked(self.kmap_fixmap_base + idx) & 0xFFFFFFFF

    def kmap_slot(self, cpu: int, type: Any) -> tuple[int, VirtAddr]:
        """(fixmap index, virtual address) of the slot of ``type`` on ``cpu``."""
        from highmem.kernel.kmap_types import coerce_km_type

        t = coerce_km_type(self.km_type, type)
        if self.FIX_KMAP_BEGIN is None:
            raise HighmemError("this kernel has no kmap slots: it is built with HIGHMEM=n")
        if isinstance(cpu, bool) or not isinstance(cpu, int) or not 0 <= cpu < self.NR_CPUS:
            raise HighmemError(f"CPU {cpu} has no kmap slots: slots exist for CPUs 0 to {self.NR_CPUS - 1} (NR_CPUS)")
        idx = _highmem.slot_index(self, t, cpu)
        return self.FIX_KMAP_BEGIN + idx, VirtAddr(self.slot_pte(idx)[0])


# The kernel's double-underscore names, callable from scenario code as
# ``k.__cli()``; set outside the class body so Python does not mangle them.
for _name, _fn in (("__cli", _sched.cli), ("__sti", _sched.sti), ("__save_flags", _sched.save_flags),
                   ("__restore_flags", _sched.restore_flags)):
    setattr(Machine, _name, _fn)


#: Primitives whose first argument names a lock, wait queue, completion or interrupt source.
_NAMED_PRIMITIVES = {"spin_lock": "lock", "spin_unlock": "lock", "spin_lock_irq": "lock", "spin_unlock_irq": "lock",
                     "spin_lock_irqsave": "lock", "spin_unlock_irqrestore": "lock", "sleep_on": "queue",
                     "wake_up": "queue", "wait_for_completion": "completion", "complete": "completion",
                     "raise_irq": "irq", "raise_softirq": "softirq"}


def _guard_named_primitives(m: Machine) -> None:
    """Wrap each of :data:`_NAMED_PRIMITIVES` (as the profile installed it) so that a name that is
    not a string, or a target CPU that is not online, is refused before the primitive runs."""
    for name, what in _NAMED_PRIMITIVES.items():
        fn = getattr(m, name)

        def guarded(*args: Any, _fn: Callable[..., Any] = fn, _name: str = name, _what: str = what,
                    **kwargs: Any) -> Any:
            if args:
                _args.check_name(_name, _what, args[0])
            if _name in ("raise_irq", "raise_softirq"):
                cpu = args[1] if len(args) > 1 else kwargs.get("cpu")
                if cpu is not None:
                    _args.check_int(_name, "cpu", cpu, 0, len(m.cpus))
            return _fn(*args, **kwargs)

        guarded.__doc__ = fn.__doc__
        guarded.__name__ = name
        setattr(m, name, guarded)

