"""Bounce buffers for block I/O above a device's DMA limit (2.4.22 mm/highmem.c, include/linux/blkdev.h).

``blk_queue_bounce`` sends a buffer_head straight to the device when its
page lies at or below the queue's ``bounce_pfn``; otherwise
``create_bounce`` allocates a bounce page (``alloc_bounce_page``: GFP_NOHIGHIO,
falling back to a 32-page emergency pool) and a bounce buffer_head, and:

* WRITE: copies the data now, in process context, through KM_USER0
  (``copy_from_high_bh``); completion is ``bounce_end_io_write``;
* READ: completion is ``bounce_end_io_read``, which runs in the device's
  hard-IRQ context and copies into the high page through KM_BOUNCE_READ
  with interrupts saved and disabled (``copy_to_high_bh_irq``).

``bounce_end_io`` calls the original buffer's ``b_end_io`` first, then
returns the bounce page and buffer_head to the emergency pools (or frees
them when the pools hold POOL_SIZE).

Departure from Linux: 2.4.22 bounces only *highmem* pages, into pages of
ZONE_NORMAL (a queue's ``bounce_pfn`` defaults to the last lowmem frame,
BLK_BOUNCE_HIGH).  For a device that can only DMA below 16 MiB (an ISA
limit) the model does what 2.6's mm/bounce.c does: it bounces every page
above the limit, into ZONE_DMA pages with a separate pool of ISA_POOL_SIZE
(16) pages.

Departure from Linux: when both the allocator and the emergency pool are
empty, 2.4.22 loops on ``run_task_queue(&tq_disk); yield()``.  The model
sleeps on a wait queue that ``bounce_end_io`` wakes when it returns a page,
so that a pool that can never refill is reported as a deadlock instead of
spinning until the step budget.
"""

from __future__ import annotations

from highmem._record import field, record
from highmem.events import Bounce
from highmem.hw.blockdev import BlockDevice, Request
from highmem.hw.physmem import PAGE_SHIFT, Page
from highmem.kernel import sched as _sched
from highmem.kernel.spinlock import spin_lock_irq, spin_lock_irqsave, spin_unlock_irq, spin_unlock_irqrestore

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from highmem.kernel.machine import Machine

__all__ = ["BufferHead", "BouncePools", "POOL_SIZE", "submit_bh", "wait_on_buffer", "init_emergency_pool"]

POOL_SIZE = 32
ISA_POOL_SIZE = 16
POOL_WAIT = "emergency_pool_wait"


@record(eq=False)
class BufferHead:
    """``struct buffer_head``, the fields bouncing uses.  ``b_data`` is the offset in the page
    for a high page (``bh_offset``) and the kernel address for a low one."""

    b_blocknr: int
    b_size: int
    b_page: Page
    b_data: int
    b_dev: str
    name: str = ""
    uptodate: bool = False
    locked: bool = False
    b_end_io: Callable[[Machine, BufferHead, bool], None] | None = None
    b_private: BufferHead | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def bh_offset(self) -> int:
        """``bh_offset(bh)``: the offset of the data in its page."""
        return self.b_data & 0xFFF


class BouncePools:
    """The emergency pools and the statistics of bouncing on one machine."""

    def __init__(self) -> None:
        self.pages: list[Page] = []
        #: 2.6-style ISA pool (ZONE_DMA pages) for queues limited below lowmem.
        self.isa_pages: list[Page] = []
        self.bhs = 0
        self.low_water = POOL_SIZE
        self.bounced = 0
        self.pool_allocs = 0
        self.alloc_fails = False
        #: KM type the READ completion uses: KM_BOUNCE_READ, as 2.4.22 does; a scenario may
        #: set another to model a broken driver (bounce-read-wrong-slot).
        self.read_km_type = "KM_BOUNCE_READ"


def init_emergency_pool(m: Machine) -> None:
    """``init_emergency_pool``: with highmem, reserve POOL_SIZE pages (GFP_ATOMIC) and buffer_heads."""
    pools = m.bounce
    if m.highstart_pfn >= m.max_pfn:
        return
    while len(pools.pages) < POOL_SIZE:
        page = m.allocator.alloc_page("GFP_ATOMIC")
        if page is None:
            m.boot_log.append("couldn't refill highmem emergency pages")
            break
        pools.pages.append(page)
    pools.bhs = POOL_SIZE
    m.boot_log.append(f"allocated {len(pools.pages)} pages and {pools.bhs} bhs reserved for the highmem bounces")


def init_emergency_isa_pool(m: Machine) -> None:
    """Reserve ISA_POOL_SIZE ZONE_DMA pages for bounces below 16 MiB (2.6 ``init_emergency_isa_pool``)."""
    pools = m.bounce
    if pools.isa_pages:
        return
    while len(pools.isa_pages) < ISA_POOL_SIZE:
        page = m.allocator.alloc_page("GFP_DMA")
        if page is None:
            break
        pools.isa_pages.append(page)
    pools.low_water = min(pools.low_water, len(pools.isa_pages))
    m.boot_log.append(f"isa bounce pool size: {len(pools.isa_pages)} pages")


def _emit(m: Machine, what: str, rw: str, bh: BufferHead, bounce: BufferHead | None) -> None:
    if m.bus.active and (m.bus.judges is None or Bounce in m.bus.judges):
        cur = m.current
        m.bus.emit(Bounce(cur.cpu, cur.name, what, rw, bh.b_blocknr, bh.b_page.pfn,
                          -1 if bounce is None else bounce.b_page.pfn))


def alloc_bounce_page(m: Machine, isa: bool = False) -> Page:
    """``alloc_bounce_page``: GFP_NOHIGHIO (GFP_DMA for an ISA queue), else the emergency pool,
    else wait. Process context."""
    pools = m.bounce
    page = None if pools.alloc_fails else m.allocator.alloc_page("GFP_DMA" if isa else "GFP_NOHIGHIO")
    if page is not None:
        return page
    pool = pools.isa_pages if isa else pools.pages
    while True:
        spin_lock_irq(m, "emergency_lock")
        if pool:
            page = pool.pop()
            if len(pool) < pools.low_water:  # pools.low_water = min(pools.low_water, len(pool))
                pools.low_water = len(pool)
            pools.pool_allocs += 1
        else:
            # Departure (see module docstring): wait for bounce_end_io instead of yielding.
            assert m.engine is not None
            m.engine.prepare_to_wait(m.current, POOL_WAIT)
        spin_unlock_irq(m, "emergency_lock")
        if page is not None:
            return page
        _sched.schedule(m)


def alloc_bounce_bh(m: Machine) -> None:
    """``alloc_bounce_bh``: the slab, else the emergency buffer_heads (counted only)."""
    pools = m.bounce
    if pools.alloc_fails and pools.bhs > 0:
        pools.bhs -= 1


def copy_from_high_bh(m: Machine, to: BufferHead, frm: BufferHead) -> None:
    """WRITE: copy the high page's data into the bounce page through KM_USER0 (process context)."""
    vfrom = m.kmap_atomic(frm.b_page, "KM_USER0")
    m.memcpy(to.b_data, vfrom + (frm.b_data & 0xFFF), to.b_size)  # frm.bh_offset
    m.kunmap_atomic(vfrom, "KM_USER0")
    bus = m.bus
    if bus.active and (bus.judges is None or Bounce in bus.judges):  # _emit's test, before its call
        _emit(m, "copy_from_high", "WRITE", frm, to)


def copy_to_high_bh_irq(m: Machine, to: BufferHead, frm: BufferHead) -> None:
    """READ completion: copy the bounce data into the high page through KM_BOUNCE_READ with
    interrupts saved and disabled (hard-IRQ context)."""
    t = m.bounce.read_km_type
    flags = m.save_flags()
    m.cli()
    vto = m.kmap_atomic(to.b_page, t)
    m.memcpy(vto + (to.b_data & 0xFFF), frm.b_data, to.b_size)  # to.bh_offset
    m.kunmap_atomic(vto, t)
    m.restore_flags(flags)
    bus = m.bus
    if bus.active and (bus.judges is None or Bounce in bus.judges):  # _emit's test, before its call
        _emit(m, "copy_to_high_irq", "READ", to, frm)


def bounce_end_io(m: Machine, bh: BufferHead, uptodate: bool) -> None:
    """Complete the original buffer, then give the bounce page and bh back to the pools."""
    orig = bh.b_private
    assert orig is not None and orig.b_end_io is not None
    orig.b_end_io(m, orig, uptodate)
    pools = m.bounce
    flags = spin_lock_irqsave(m, "emergency_lock")
    isa = bool(bh.extra.get("isa"))
    pool, size = (pools.isa_pages, ISA_POOL_SIZE) if isa else (pools.pages, POOL_SIZE)
    if len(pool) >= size:
        m.allocator.free_page(bh.b_page)
    else:
        pool.append(bh.b_page)
        if m.engine is not None and m.engine.waitqueue_active(POOL_WAIT):
            m.engine.wake_up(m.current, POOL_WAIT)
    if pools.bhs < POOL_SIZE:
        pools.bhs += 1
    spin_unlock_irqrestore(m, "emergency_lock", flags)
    bus = m.bus
    if bus.active and (bus.judges is None or Bounce in bus.judges):  # _emit's test, before its call
        _emit(m, "end_io", bh.extra.get("rw", "?"), orig, bh)


def bounce_end_io_write(m: Machine, bh: BufferHead, uptodate: bool) -> None:
    """Completion of a bounced WRITE."""
    bounce_end_io(m, bh, uptodate)


def bounce_end_io_read(m: Machine, bh: BufferHead, uptodate: bool) -> None:
    """Completion of a bounced READ: copy up into the high page, then bounce_end_io."""
    orig = bh.b_private
    assert orig is not None
    if uptodate:
        copy_to_high_bh_irq(m, orig, bh)
    bounce_end_io(m, bh, uptodate)


def create_bounce(m: Machine, rw: str, bh_orig: BufferHead, isa: bool = False) -> BufferHead:
    """A bounce buffer_head for ``bh_orig`` over a low bounce page (``create_bounce``)."""
    if bh_orig.b_page.pfn < m.highstart_pfn and not isa:
        return bh_orig
    pools = m.bounce
    # alloc_bounce_bh(m), inlined.
    if pools.alloc_fails and pools.bhs > 0:
        pools.bhs -= 1
    page = alloc_bounce_page(m, isa)
    pools.bounced += 1
    # The fields by position (keyword arguments cost a third more): ..., name, uptodate, locked,
    # b_end_io (set below), b_private.
    bh = BufferHead(bh_orig.b_blocknr, bh_orig.b_size, page, m.page_address(page), bh_orig.b_dev,
                    f"bounce({bh_orig.name})", False, True, None, bh_orig)
    bh.extra["rw"] = rw
    bh.extra["isa"] = isa
    bus = m.bus
    if bus.active and (bus.judges is None or Bounce in bus.judges):  # _emit's test, before its call
        _emit(m, "create", rw, bh_orig, bh)
    if rw == "WRITE":
        copy_from_high_bh(m, bh, bh_orig)
        bh.b_end_io = bounce_end_io_write
    else:
        bh.b_end_io = bounce_end_io_read
    return bh


def blk_queue_bounce(m: Machine, dev: BlockDevice, rw: str, bh: BufferHead) -> BufferHead:
    """The buffer to give the device: ``bh`` itself when its page is within the DMA limit."""
    if bh.b_page.pfn <= dev.bounce_pfn:
        return bh
    return create_bounce(m, rw, bh, isa=dev.bounce_pfn < m.max_low_pfn - 1)


def end_buffer_io_sync(m: Machine, bh: BufferHead, uptodate: bool) -> None:
    """``end_buffer_io_sync``: mark the buffer up to date, unlock it, wake its waiters."""
    bh.uptodate = uptodate
    bh.locked = False
    # _sched.wake_up(m, f"bh:{bh.name}"), inlined.
    if m.sched_point is not None:
        m.sched_point("wake_up")
    if m.engine is not None:
        m.engine.wake_up(m.current, f"bh:{bh.name}")


def submit_bh(m: Machine, dev: BlockDevice, rw: str, bh: BufferHead) -> None:
    """``submit_bh(rw, bh)``: lock the buffer, bounce it if needed, queue it on ``dev``. Process context."""
    if m.sched_point is not None:
        m.sched_point("submit_bh")
    block = bh.b_blocknr
    size = bh.b_size
    if not 0 <= block < dev.nblocks or size != dev.block_size:
        dev.check_request(block, size)  # it raises: the test is its own
    bh.locked = True
    bh.uptodate = False
    if bh.b_end_io is None:
        bh.b_end_io = end_buffer_io_sync
    # blk_queue_bounce(m, dev, rw, bh), inlined.
    if bh.b_page.pfn <= dev.bounce_pfn:
        io = bh
    else:
        io = create_bounce(m, rw, bh, isa=dev.bounce_pfn < m.max_low_pfn - 1)
    phys = (io.b_page.pfn << PAGE_SHIFT) + (io.b_data & 0xFFF)  # io.bh_offset

    def done(uptodate: int, io: BufferHead = io) -> None:
        assert io.b_end_io is not None
        io.b_end_io(m, io, bool(uptodate))

    queue = dev.queue
    idle = not queue
    # dev.submit(req), inlined: its check_request is the one above (same block, same size).
    queue.append(Request(rw, block, phys, size, done, io))  # tag=io, by position
    if idle and m.engine is not None:
        # The device's line may arrive now.  (Behind other requests it already could: its
        # arrival is the one thing of the device that the engine's options read.)
        m.engine.state_changed()


def wait_on_buffer(m: Machine, bh: BufferHead) -> None:
    """``wait_on_buffer``: sleep until the buffer is unlocked (no lost wake-up). Process context."""
    if m.sched_point is not None:
        m.sched_point("wait_on_buffer")
    if not bh.locked:
        return
    eng = m.engine
    if eng is None:
        from highmem.errors import HighmemError

        raise HighmemError(f"wait_on_buffer({bh.name}) needs the scheduler: the device completes I/O "
                           "from its interrupt")
    while bh.locked:
        eng.prepare_to_wait(m.current, f"bh:{bh.name}")
        if not bh.locked:
            eng.finish_wait(m.current, f"bh:{bh.name}")
            break
        _sched.schedule(m)


def device_interrupt(m: Machine, dev: BlockDevice) -> None:
    """The device's interrupt handler: complete the oldest request (DMA, then b_end_io).
    An interrupt with nothing to complete is spurious and ignored, as drivers do."""
    if not dev.queue:
        return
    req = dev.complete_one(m.phys)
    if not dev.queue and m.engine is not None:
        # Nothing left to complete: the line may no longer arrive (see submit_bh).
        m.engine.state_changed()
    req.done(1)
