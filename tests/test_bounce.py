"""Bounce buffers for block I/O above a device's DMA limit (2.4.22 mm/highmem.c, include/linux/blkdev.h).

kernel-facts.md 1.9: blk_queue_bounce passes a buffer whose page is at or below the queue's bounce_pfn
straight to the device; otherwise create_bounce takes a low bounce page (GFP_NOHIGHIO, else the
32-page emergency pool), copies a WRITE up front through KM_USER0 in process context, and for a READ
copies back in the completion (hard-IRQ context) with flags saved, interrupts disabled and
KM_BOUNCE_READ.  bounce_end_io completes the original buffer, then returns the page to the pool.
The first high frame of a 2 GiB machine is 0x38000; a 2 GiB machine has max_low_pfn 0x38000, so the
last lowmem frame (BLK_BOUNCE_HIGH) is 0x37fff; ISA DMA reaches frames 0..4095 (16 MiB).
"""

from __future__ import annotations

from typing import Any

import pytest

from highmem.errors import Oops
from highmem.hw.blockdev import BlockDevice, DMAError, Request
from highmem.hw.physmem import PhysicalMemory
from highmem.scenarios import load_builtin, load_toml_text
from highmem.scenarios.model import ContextSpec, DeviceSpec, PageSpec, Scenario
from highmem.sim.explore import explore, run_once
from highmem.sim.strategy import DefaultStrategy

HIGH0 = 0x38000
BLK_BOUNCE_HIGH = 0x37FFF
ISA_LIMIT = 4095

RW_SCENARIO = """
[[device]]
name = "hda"
blocks = 8
data = { 3 = "sector three" }

[pages]
hi = { fill = "h" }

[[task]]
name = "t"
ops = [
  { op = "submit_bh", device = "hda", rw = "write", page = "hi", block = 1, as = "w" },
  { op = "wait_on_buffer", bh = "w" },
  { op = "submit_bh", device = "hda", rw = "read", page = "hi", block = 3, as = "r" },
  { op = "wait_on_buffer", bh = "r" },
]

[[expect]]
page = "hi"
data = "sector three"
"""


def _run(text: str) -> tuple[Any, Any]:
    sc = load_toml_text(text, "t.toml")
    return run_once(sc, sc.config(), DefaultStrategy(), trace=True)


def _bounces(rec: Any, what: str) -> list[dict[str, Any]]:
    return [r for r in rec.records if r["kind"] == "bounce" and r["what"] == what]


def test_bounce_high_page_bounced_low_page_not() -> None:
    """2.4.22 include/linux/blkdev.h blk_queue_bounce: a page above bounce_pfn gets a bounce buffer, a page
    at or below it goes to the device directly (ISA device, bounce_pfn 4095: a ZONE_DMA page is within)."""
    res, rec = _run("""
[[device]]
name = "hda"

[pages]
hi = { fill = "h" }
dma = { zone = "dma", fill = "d" }

[[task]]
name = "t"
ops = [
  { op = "submit_bh", device = "hda", rw = "write", page = "dma", block = 0, as = "a" },
  { op = "wait_on_buffer", bh = "a" },
  { op = "submit_bh", device = "hda", rw = "write", page = "hi", block = 1, as = "b" },
  { op = "wait_on_buffer", bh = "b" },
]

[[expect_block]]
device = "hda"
block = 0
data = "dddd"

[[expect_block]]
device = "hda"
block = 1
data = "hhhh"
""")
    assert res.status == "done" and res.findings == []
    creates = _bounces(rec, "create")
    assert [(r["rw"], r["block"], r["pfn"]) for r in creates] == [("WRITE", 1, HIGH0)]
    assert res.stats["bounce_pages_used"] == 1


def test_bounce_lowmem_page_not_bounced_for_bounce_high_queue() -> None:
    """2.4.22 include/linux/blkdev.h blk_queue_bounce with BLK_BOUNCE_HIGH (bounce_pfn = last lowmem frame):
    a ZONE_NORMAL page is within the limit, a high page is bounced into a low (ZONE_NORMAL) page."""
    res, rec = _run(f"""
[[device]]
name = "sda"
bounce_pfn = {BLK_BOUNCE_HIGH}

[pages]
hi = {{ fill = "h" }}
low = {{ zone = "normal", fill = "n" }}

[[task]]
name = "t"
ops = [
  {{ op = "submit_bh", device = "sda", rw = "write", page = "low", block = 0, as = "a" }},
  {{ op = "wait_on_buffer", bh = "a" }},
  {{ op = "submit_bh", device = "sda", rw = "write", page = "hi", block = 1, as = "b" }},
  {{ op = "wait_on_buffer", bh = "b" }},
]
""")
    assert res.status == "done" and res.findings == []
    [c] = _bounces(rec, "create")
    assert (c["block"], c["pfn"]) == (1, HIGH0)
    assert 0 <= c["bounce_pfn"] <= BLK_BOUNCE_HIGH


def test_bounce_write_copies_through_km_user0_before_the_io() -> None:
    """2.4.22 mm/highmem.c create_bounce / copy_from_high_bh: a WRITE is copied into the bounce page now,
    in process context, through KM_USER0; only then does the device's interrupt (DMA + b_end_io) come."""
    res, rec = _run(RW_SCENARIO)
    assert res.status == "done" and res.findings == []
    [create] = [r for r in _bounces(rec, "create") if r["rw"] == "WRITE"]
    bpfn = create["bounce_pfn"]
    seq = []
    for r in rec.records:
        if r["kind"] == "context" and r["what"] == "irq_enter":
            seq.append(("irq_enter", r["context"]))
            break
        if r["kind"] in ("kmap_atomic", "kunmap_atomic"):
            seq.append((r["kind"], r["context"], r["type"]))
        elif r["kind"] in ("load", "store"):
            seq.append((r["kind"], r["context"], r["pfn"]))
        elif r["kind"] == "bounce":
            seq.append(("bounce", r["context"], r["what"], r["rw"]))
    assert seq == [
        ("bounce", "t", "create", "WRITE"),
        ("kmap_atomic", "t", "KM_USER0"),
        ("load", "t", HIGH0),
        ("store", "t", bpfn),
        ("kunmap_atomic", "t", "KM_USER0"),
        ("bounce", "t", "copy_from_high", "WRITE"),
        ("irq_enter", "ide0#1"),
    ]
    [end] = [r for r in _bounces(rec, "end_io") if r["rw"] == "WRITE"]
    assert end["context"] == "ide0#1"


def test_bounce_read_completion_copies_in_hardirq_with_irqs_off() -> None:
    """2.4.22 mm/highmem.c bounce_end_io_read / copy_to_high_bh_irq: in the device's hard-IRQ context, save
    flags, __cli, kmap_atomic(KM_BOUNCE_READ), copy the bounce data up, kunmap_atomic, restore flags (the
    2.4 slow handler ran with interrupts enabled, so they come back on), then bounce_end_io."""
    res, rec = _run(RW_SCENARIO)
    assert res.status == "done" and res.findings == []
    [create] = [r for r in _bounces(rec, "create") if r["rw"] == "READ"]
    bpfn = create["bounce_pfn"]
    irq = "ide0#2"
    seq = []
    for r in rec.records:
        if r.get("context") != irq:
            continue
        if r["kind"] == "irq_flags":
            seq.append((r["op"], r["enabled"]))
        elif r["kind"] in ("kmap_atomic", "kunmap_atomic"):
            seq.append((r["kind"], r["type"], r["idx"]))
        elif r["kind"] in ("load", "store"):
            seq.append((r["kind"], r["pfn"]))
        elif r["kind"] == "bounce":
            seq.append(("bounce", r["what"]))
        elif r["kind"] == "context":
            seq.append((r["what"],))
    # idx = KM_BOUNCE_READ (0) + KM_TYPE_NR * cpu 0
    assert seq == [
        ("irq_enter",),
        ("__cli", False),
        ("kmap_atomic", "KM_BOUNCE_READ", 0),
        ("load", bpfn),
        ("store", HIGH0),
        ("kunmap_atomic", "KM_BOUNCE_READ", 0),
        ("__restore_flags", True),
        ("bounce", "copy_to_high_irq"),
        ("bounce", "end_io"),
        ("irq_exit",),
        ("end",),
    ]


def test_bounce_data_round_trip_and_expect_block() -> None:
    """2.4.22 mm/highmem.c: bouncing is transparent: the written high page reaches the disk and the read
    block reaches the high page ([[expect]] and [[expect_block]] hold, no finding)."""
    res, _ = _run(RW_SCENARIO + """
[[expect_block]]
device = "hda"
block = 1
data = "hhhhhhhh"
""")
    assert res.status == "done"
    assert res.findings == []


def test_bounce_wrong_expect_block_is_data_mismatch() -> None:
    """2.4.22 mm/highmem.c bounce path: the disk holds what was written ('h' fill), so an [[expect_block]]
    asking for other bytes is a data-mismatch at the end."""
    res, _ = _run(RW_SCENARIO + """
[[expect_block]]
device = "hda"
block = 1
data = "zzzz"
""")
    assert [(f.kind, f.message) for f in res.findings] == [
        ("data-mismatch", "at the end, block 1 of hda holds 'hhhh' at offset 0 but the scenario expects 'zzzz'")]


def test_bounce_emergency_pool_drains_and_refills() -> None:
    """2.4.22 mm/highmem.c alloc_bounce_page / bounce_end_io: when GFP_NOHIGHIO fails the page comes from
    the 32-page emergency pool, and bounce_end_io puts it back: two I/Os in flight take the pool to 30,
    a third one after both completed finds it refilled (low-water mark stays 30)."""
    res, _ = _run(f"""
[[device]]
name = "sda"
bounce_pfn = {BLK_BOUNCE_HIGH}
alloc_fails = true

[pages]
a = {{ fill = "a" }}
b = {{ fill = "b" }}
c = {{ fill = "c" }}

[[task]]
name = "t"
ops = [
  {{ op = "submit_bh", device = "sda", rw = "write", page = "a", block = 0, as = "x" }},
  {{ op = "submit_bh", device = "sda", rw = "write", page = "b", block = 1, as = "y" }},
  {{ op = "wait_on_buffer", bh = "x" }},
  {{ op = "wait_on_buffer", bh = "y" }},
  {{ op = "submit_bh", device = "sda", rw = "write", page = "c", block = 2, as = "z" }},
  {{ op = "wait_on_buffer", bh = "z" }},
]

[[expect_block]]
device = "sda"
block = 2
data = "cccc"
""")
    assert res.status == "done" and res.findings == []
    assert res.stats["bounce_pages_used"] == 3
    assert res.stats["bounce_pool_allocs"] == 3
    assert res.stats["emergency_pool_low_water"] == 30


def test_bounce_pool_is_full_again_after_completion() -> None:
    """2.4.22 mm/highmem.c bounce_end_io: the page goes back to the emergency list while it holds fewer
    than POOL_SIZE (32), so after every I/O completed the pool holds 32 pages again."""
    sizes: list[int] = []
    sc = Scenario(name="py", machine={}, pages=[PageSpec("A")],
                  devices=[DeviceSpec("sda", bounce_pfn=BLK_BOUNCE_HIGH, alloc_fails=True)])

    def body(k: Any, pages: Any) -> None:
        from highmem.kernel.bounce import BufferHead

        dev = sc.runtime_devices["sda"]
        sizes.append(len(k.bounce.pages))
        bh = BufferHead(0, 1024, pages["A"], 0, "sda", name="bh")
        k.submit_bh(dev, "WRITE", bh)
        sizes.append(len(k.bounce.pages))
        k.wait_on_buffer(bh)
        sizes.append(len(k.bounce.pages))

    sc.contexts = [ContextSpec("task", "t", 0, fn=body)]
    sc.python = True
    sc.digest = "x"
    res, _ = run_once(sc, sc.config(), DefaultStrategy())
    assert res.status == "done" and res.findings == []
    assert sizes == [32, 31, 32]


def test_bounce_isa_device_uses_zone_dma_pages() -> None:
    """Departure from 2.4.22 (which bounces only highmem pages, into ZONE_NORMAL) documented in
    highmem.kernel.bounce: for an ISA queue the model does what 2.6.32 mm/bounce.c does: every page
    above the limit, lowmem included, is bounced into a ZONE_DMA page (pfn < 4096) from a 16-page ISA
    pool (ISA_POOL_SIZE)."""
    res, rec = _run("""
[[device]]
name = "fd0"
alloc_fails = true

[pages]
hi = { fill = "h" }
low = { zone = "normal", fill = "n" }

[[task]]
name = "t"
ops = [
  { op = "submit_bh", device = "fd0", rw = "write", page = "hi", block = 0, as = "a" },
  { op = "submit_bh", device = "fd0", rw = "write", page = "low", block = 1, as = "b" },
  { op = "wait_on_buffer", bh = "a" },
  { op = "wait_on_buffer", bh = "b" },
]

[[expect_block]]
device = "fd0"
block = 1
data = "nnnn"
""")
    assert res.status == "done" and res.findings == []
    creates = _bounces(rec, "create")
    assert len(creates) == 2
    assert creates[0]["pfn"] == HIGH0 and ISA_LIMIT < creates[1]["pfn"] < HIGH0
    assert all(0 <= c["bounce_pfn"] <= ISA_LIMIT for c in creates)
    assert res.stats["bounce_pool_allocs"] == 2
    assert res.stats["emergency_pool_low_water"] == 16 - 2


def test_bounce_dma_above_limit_is_an_oops() -> None:
    """2.4.22 include/linux/blkdev.h: bouncing exists because the device cannot address frames above
    bounce_pfn; a request for such a frame that was not bounced is a DMAError (an Oops) in the model."""
    dev = BlockDevice("hda", 8, 1024, bounce_pfn=ISA_LIMIT)
    mem = PhysicalMemory(HIGH0 + 16)
    dev.submit(Request("WRITE", 0, HIGH0 << 12, 1024, lambda uptodate: None))
    with pytest.raises(DMAError) as e:
        dev.complete_one(mem)
    assert isinstance(e.value, Oops)
    assert str(e.value) == ("device hda cannot DMA to physical 0x38000000: its limit is frame 0xfff "
                            "(the buffer should have been bounced)")
    assert dev.completed == 0 and dev.blocks == {}


def test_bounce_dma_at_the_limit_is_fine() -> None:
    """2.4.22 include/linux/blkdev.h blk_queue_bounce: bounce_pfn is the highest frame the device reaches
    (page - mem_map <= bounce_pfn), so a transfer ending in frame 4095 is legal."""
    dev = BlockDevice("hda", 8, 1024, bounce_pfn=ISA_LIMIT)
    mem = PhysicalMemory(8192)
    mem.write((ISA_LIMIT << 12) + 3072, b"edge")
    dev.submit(Request("WRITE", 5, (ISA_LIMIT << 12) + 3072, 1024, lambda uptodate: None))
    req = dev.complete_one(mem)
    assert req.block == 5 and dev.read_block(5)[:4] == b"edge"


def test_bounce_dma_oops_in_engine_is_reported() -> None:
    """2.4.22 include/linux/blkdev.h: an unbounced DMA above the limit is an Oops in the device's interrupt;
    a run the engine stops for an Oops must carry a finding naming it."""
    sc = Scenario(name="py", machine={}, pages=[PageSpec("A")], devices=[DeviceSpec("hda")])

    def body(k: Any, pages: Any) -> None:
        dev = sc.runtime_devices["hda"]
        dev.submit(Request("WRITE", 0, pages["A"].pfn << 12, 1024, lambda uptodate: None))
        k.raise_irq("ide0")
        k.schedule()

    sc.contexts = [ContextSpec("task", "t", 0, fn=body)]
    sc.python = True
    sc.digest = "x"
    res, _ = run_once(sc, sc.config(), DefaultStrategy())
    msg = "device hda cannot DMA to physical 0x38000000: its limit is frame 0xfff (the buffer should have been bounced)"
    assert res.status == "stopped" and res.stop_reason == msg
    assert any(msg in f.message for f in res.findings)


def test_bounce_pool_that_cannot_refill_is_a_deadlock() -> None:
    """2.4.22 mm/highmem.c alloc_bounce_page loops until bounce_end_io returns a page; the model sleeps on
    emergency_pool_wait instead (documented departure) so that a pool that can never refill is a deadlock:
    17 writes to an ISA device (pool 16) whose interrupt goes to CPU 1, where a task spins with interrupts
    disabled on the lock the submitter holds, so no completion can ever arrive.
    Steps: spin_lock 1; each bounced WRITE is 6 steps (submit_bh, spin_lock_irq, spin_unlock_irq,
    kmap_atomic, memcpy, kunmap_atomic) so 16 end at 97; the 17th sleeps in schedule at 101; the blocker's
    local_irq_save is 102 and its spin_lock 103."""
    res, _ = _run("""
[[device]]
name = "hda"
cpu = 1
alloc_fails = true

[pages]
hi = { fill = "h" }

[[task]]
name = "submitter"
cpu = 0
ops = [
  { op = "spin_lock", lock = "L" },
  { op = "repeat", count = 17, ops = [
    { op = "submit_bh", device = "hda", rw = "write", page = "hi", block = 0, as = "w" },
  ] },
  { op = "spin_unlock", lock = "L" },
]

[[task]]
name = "blocker"
cpu = 1
ops = [
  { op = "local_irq_save", as = "f" },
  { op = "spin_lock", lock = "L" },
  { op = "spin_unlock", lock = "L" },
  { op = "local_irq_restore", flags = "f" },
]
""")
    assert res.status == "deadlocked"
    assert [f.to_dict() for f in res.findings] == [{
        "kind": "deadlock",
        "message": "nothing can run and 2 contexts wait: submitter sleeps on 'emergency_pool_wait' since step 101; "
                   "blocker on CPU 1 spins in spin_lock(L) held by submitter since step 103 with interrupts disabled",
        "cpu": None, "contexts": ["submitter", "blocker"], "slot": None, "pages": [], "steps": [101, 103, 103]}]
    assert res.stats["bounce_pages_used"] == 16
    assert res.stats["bounce_pool_allocs"] == 16
    assert res.stats["emergency_pool_low_water"] == 0


def test_bounce_io_builtin_is_clean_and_bounces_every_io() -> None:
    """2.4.22 mm/highmem.c create_bounce: builtin bounce-io does 4 tasks x 125 rounds x (1 WRITE + 1 READ) =
    1000 I/Os per schedule, every page high and the device ISA-limited, so each is bounced, from the pool
    (alloc_fails); over 3 schedules the summed counts are 3000.  At most 4 I/Os are in flight at once, and
    bounce_end_io calls the original b_end_io (waking its task) *before* returning the page, so a woken
    task on the other CPU can take a fifth page meanwhile: the pool of 16 never drops below 11."""
    sc = load_builtin("bounce-io")
    ex = explore(sc, sc.config(), strategy="pct", schedules=3, seed=0, do_shrink=False)
    assert ex.schedules == 3
    assert dict(ex.counts) == {}
    assert ex.stats["bounce_pages_used"] == 3 * 4 * 125 * 2
    assert ex.stats["bounce_pool_allocs"] == 3 * 4 * 125 * 2
    assert 16 - 5 <= ex.stats["emergency_pool_low_water"] < 16


def test_bounce_read_wrong_slot_builtin_finds_the_clobber() -> None:
    """2.4.22 mm/highmem.c copy_to_high_bh_irq uses KM_BOUNCE_READ because an interrupt must not share a
    slot with the code it interrupts; builtin bounce-read-wrong-slot uses KM_USER0 and the copier's
    mapping is replaced: stale-access and data-mismatch."""
    sc = load_builtin("bounce-read-wrong-slot")
    ex = explore(sc, sc.config(), strategy="pct", schedules=50, seed=0, do_shrink=False)
    assert set(ex.counts) == {"stale-access", "data-mismatch"}
    f = ex.by_kind["stale-access"].finding
    assert f.contexts[0] == "copier" and f.contexts[1].startswith("ide0#")
    assert f.slot is not None and f.slot["type"] == "KM_USER0"
