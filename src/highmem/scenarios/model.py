"""A scenario: a machine, named pages, contexts with their code, and expectations.

Both TOML scenarios (operation lists, see :mod:`highmem.scenarios.ops`) and
Python scenarios (plain functions ``fn(k, pages)``) become this one model;
:meth:`Scenario.workload` turns it into what the engine runs on a freshly
booted machine.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from highmem._record import field, record
from highmem.errors import HighmemError
from highmem.hw.physmem import PAGE_SHIFT, PAGE_SIZE, Page, Zone
from highmem.kernel.config import KernelConfig
from highmem.kernel.machine import Machine
from highmem.profiles import make_config
from highmem.sha import sha256_hex
from highmem.sim.checker import Checker
from highmem.sim.findings import Finding
from highmem.sim.workload import IrqSpec, SoftirqSpec, TaskSpec, Workload

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Scenario", "ContextSpec", "PageSpec", "ExpectSpec"]

PyBody = Callable[[Machine, dict[str, Page]], None]


@record
class PageSpec:
    """A page the scenario allocates at boot, with its initial bytes."""

    name: str
    zone: Zone = Zone.ZONE_HIGHMEM
    data: bytes = b""
    #: the frame the page must be (``[pages] pfn`` / ``phys``); None lets the allocator choose
    pfn: int | None = None
    #: whether the scenario named the zone (with a pfn and no zone, the frame's zone is taken)
    zone_given: bool = True
    #: the scenario line that declares the page, for messages
    line: int | None = None


@record
class ContextSpec:
    """A task, IRQ or softirq: ``ops`` (TOML) or ``fn`` (Python) is its code."""

    kind: str
    name: str
    cpu: int
    ops: list[dict[str, Any]] | None = None
    fn: PyBody | None = None
    max: int = 1
    sa_interrupt: bool = False
    line: int | None = None


@record
class DeviceSpec:
    """A block device: its geometry, DMA limit, interrupt line and initial blocks."""

    name: str
    nblocks: int = 64
    block_size: int = 1024
    bounce_pfn: int = 4095
    irq: str = "ide0"
    cpu: int = 0
    data: dict[int, bytes] = field(default_factory=dict)
    #: Forces GFP_NOHIGHIO to fail so bounce pages come from the emergency pool (memory pressure).
    alloc_fails: bool = False
    #: The km type of the READ completion's copy (KM_BOUNCE_READ in 2.4.22).
    read_km_type: str = "KM_BOUNCE_READ"


@record
class ExpectBlockSpec:
    """Bytes a device block must hold when the run ends."""

    device: str
    block: int
    offset: int
    data: bytes


@record
class ExpectSpec:
    """Bytes a page must hold when the run ends."""

    page: str
    offset: int
    data: bytes


@record
class Scenario:
    """One workload to explore; ``expect`` lists the finding kinds it is known to produce
    (empty for a correct scenario), used by the test-suite and ``highmem scenarios``."""

    name: str
    description: str = ""
    source: str = ""
    reference: str = ""
    machine: dict[str, Any] = field(default_factory=dict)
    pages: list[PageSpec] = field(default_factory=list)
    contexts: list[ContextSpec] = field(default_factory=list)
    expects: list[ExpectSpec] = field(default_factory=list)
    devices: list[DeviceSpec] = field(default_factory=list)
    expect_blocks: list[ExpectBlockSpec] = field(default_factory=list)
    expect: list[str] = field(default_factory=list)
    max_steps: int = 200_000
    digest: str = ""
    python: bool = False
    #: The devices of the run being built (operations look them up by name).
    runtime_devices: dict[str, Any] = field(default_factory=dict, repr=False)

    def config(self, profile: str | None = None, overrides: list[str] | None = None) -> KernelConfig:
        """The kernel configuration: the scenario's machine, then the command line's overrides."""
        mc = dict(self.machine)
        cfg = dict(mc.pop("config", {}) or {})
        for item in overrides or []:
            if "=" not in item:
                raise HighmemError(f"config setting {item!r} has no '=': write NAME=y or NAME=n")
            k, v = item.split("=", 1)
            cfg[k.strip().removeprefix("CONFIG_")] = v.strip()
        return make_config(profile or mc.pop("profile", "linux-2.4"),
                           cpus=mc.get("cpus"), nr_cpus=mc.get("nr_cpus"), pae=bool(mc.get("pae", False)),
                           km_types=mc.get("km_types", "2.4.22"), memory=mc.get("memory", "2G"),
                           config={k: v for k, v in cfg.items()}, last_pkmap=mc.get("last_pkmap"),
                           cpu_has_nx=mc.get("cpu_has_nx"))

    def compute_digest(self) -> str:
        """A stable hash of everything that shapes a run (not of names used only in messages)."""
        blob = json.dumps({
            "machine": self.machine,
            "pages": [(p.name, p.zone.name, p.data.hex()) + ((p.pfn,) if p.pfn is not None else ())
                      for p in self.pages],
            "contexts": [(c.kind, c.name, c.cpu, c.ops, c.max, c.sa_interrupt) for c in self.contexts],
            "expects": [(e.page, e.offset, e.data.hex()) for e in self.expects],
            "devices": [(d.name, d.nblocks, d.block_size, d.bounce_pfn, d.irq, d.cpu, d.alloc_fails,
                         d.read_km_type, sorted((k, v.hex()) for k, v in d.data.items())) for d in self.devices],
            "expect_blocks": [(e.device, e.block, e.offset, e.data.hex()) for e in self.expect_blocks],
        }, sort_keys=True, default=str)
        return "sha256:" + sha256_hex(blob.encode())[:32]

    def _place(self, m: Machine, p: PageSpec) -> Page:
        """Page ``p`` at its chosen frame, checked against memory and its zone (one sentence each)."""
        where = f"{self.source}:{p.line}" if p.line else f"scenario {self.name}"
        assert p.pfn is not None
        try:
            page = m.allocator.alloc_pfn(p.pfn)
        except HighmemError as e:
            raise HighmemError(f"{where}: page {p.name} at pfn {p.pfn:#x}: {e}") from None
        if p.zone_given and page.zone is not p.zone:
            lo, hi = m.mem_map.zone_span(p.zone)
            span = f"frames {lo:#x} to {hi - 1:#x}" if hi > lo else "no frames on this machine"
            raise HighmemError(f"{where}: page {p.name} at pfn {p.pfn:#x} is in {page.zone.name}, not "
                               f"{p.zone.name}: {p.zone.name} has {span}")
        if p.data:
            m.phys.write(page.phys, p.data[:PAGE_SIZE])
        return page

    def workload(self, m: Machine) -> Workload:
        """Allocate the pages on ``m``, fill them, and compile every context's code."""
        from highmem.scenarios.ops import compile_ops

        pages: dict[str, Page] = {}
        for p in self.pages:
            if p.pfn is not None:
                pages[p.name] = self._place(m, p)
                continue
            page = m.allocator.alloc_page({Zone.ZONE_HIGHMEM: "GFP_HIGHUSER", Zone.ZONE_NORMAL: "GFP_KERNEL",
                                           Zone.ZONE_DMA: "GFP_DMA"}[p.zone])
            if page is None or page.zone is not p.zone:
                if p.zone is Zone.ZONE_HIGHMEM and m.highstart_pfn >= m.max_pfn:
                    raise HighmemError(f"scenario {self.name}: page {p.name!r} must be a high page, but this "
                                       "machine has no high memory (it needs HIGHMEM=y and more than the "
                                       "lowmem limit of RAM)")
                raise HighmemError(f"scenario {self.name}: page {p.name!r} needs a free frame in {p.zone.name}, "
                                   "and this machine has none (give it more memory)")
            if p.data:
                m.phys.write(page.phys, p.data[:PAGE_SIZE])
            pages[p.name] = page
        m.page_names.update((pg.pfn, name) for name, pg in pages.items())
        from highmem.hw.blockdev import BlockDevice
        from highmem.kernel.bounce import device_interrupt, init_emergency_isa_pool

        tasks: list[TaskSpec] = []
        irqs: list[IrqSpec] = []
        devices: dict[str, BlockDevice] = {}
        for d in self.devices:
            dev = BlockDevice(d.name, d.nblocks, d.block_size, d.bounce_pfn, d.irq, d.cpu)
            for blk, data in d.data.items():
                dev.write_block(blk, data)
            devices[d.name] = dev
            m.bounce.alloc_fails = m.bounce.alloc_fails or d.alloc_fails
            m.bounce.read_km_type = d.read_km_type
            if d.bounce_pfn < m.max_low_pfn - 1:
                init_emergency_isa_pool(m)

            def dev_irq(k: Machine, dev: BlockDevice = dev) -> None:
                device_interrupt(k, dev)
            irqs.append(IrqSpec(d.irq, d.cpu, dev_irq, max=-1, ready=dev.ready))
        self.runtime_devices.clear()
        self.runtime_devices.update(devices)
        softirqs: list[SoftirqSpec] = []
        for c in self.contexts:
            body: Callable[[Machine], None]
            if c.fn is not None:
                fn = c.fn

                def py_body(k: Machine, fn: PyBody = fn) -> None:
                    fn(k, pages)
                body = py_body
            else:
                body = compile_ops(self, c, pages)
            if c.kind == "task":
                tasks.append(TaskSpec(c.name, c.cpu, body))
            elif c.kind == "irq":
                irqs.append(IrqSpec(c.name, c.cpu, body, c.max, c.sa_interrupt))
            else:
                softirqs.append(SoftirqSpec(c.name, c.cpu, body, c.max))

        def finish(m: Machine, checker: Checker) -> None:
            for eb in self.expect_blocks:
                dev = devices[eb.device]
                got = dev.read_block(eb.block)[eb.offset : eb.offset + len(eb.data)]
                if got != eb.data:
                    checker.report(Finding(
                        "data-mismatch",
                        f"at the end, block {eb.block} of {eb.device} holds {_show(got)} at offset {eb.offset} "
                        f"but the scenario expects {_show(eb.data)}", None, [], None, [], [checker.step_of()]))
            for e in self.expects:
                page = pages[e.page]
                if type(e.offset) is int and 0 <= e.offset < PAGE_SIZE and e.offset + len(e.data) <= PAGE_SIZE:
                    # What page_bytes returns for these arguments (its checks pass), without its checks.
                    got = m.phys.read((page.pfn << PAGE_SHIFT) + e.offset, len(e.data))
                else:
                    got = m.page_bytes(page, e.offset, len(e.data))
                if got != e.data:
                    checker.report(Finding(
                        "data-mismatch",
                        f"at the end, page {e.page} ({page.pfn:#x}) holds {_show(got)} at offset {e.offset} "
                        f"but the scenario expects {_show(e.data)}", None, [], None, [page.pfn],
                        [checker.step_of()]))

        return Workload(tasks, irqs, softirqs, finish)


def _show(b: bytes) -> str:
    """Bytes for a message: text when printable, else hex; long runs shortened."""
    if len(b) > 24:
        head = _show(b[:16])
        return f"{head}... ({len(b)} bytes)"
    if all(32 <= x < 127 for x in b):
        return repr(b.decode())
    return "0x" + b.hex()
