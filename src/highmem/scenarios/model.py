"""A scenario: a machine, named pages, contexts with their code, and expectations.

Both TOML scenarios (operation lists, see :mod:`highmem.scenarios.ops`) and
Python scenarios (plain functions ``fn(k, pages)``) become this one model;
:meth:`Scenario.workload` turns it into what the engine runs on a freshly
booted machine.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from highmem.errors import HighmemError
from highmem.hw.physmem import PAGE_SIZE, Page, Zone
from highmem.kernel.config import KernelConfig, make_config
from highmem.kernel.machine import Machine
from highmem.sim.checker import Checker
from highmem.sim.findings import Finding
from highmem.sim.workload import IrqSpec, SoftirqSpec, TaskSpec, Workload

__all__ = ["Scenario", "ContextSpec", "PageSpec", "ExpectSpec"]

PyBody = Callable[[Machine, dict[str, Page]], None]


@dataclass
class PageSpec:
    """A page the scenario allocates at boot, with its initial bytes."""

    name: str
    zone: Zone = Zone.ZONE_HIGHMEM
    data: bytes = b""


@dataclass
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


@dataclass
class ExpectSpec:
    """Bytes a page must hold when the run ends."""

    page: str
    offset: int
    data: bytes


@dataclass
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
    expect: list[str] = field(default_factory=list)
    max_steps: int = 200_000
    digest: str = ""
    python: bool = False

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
                           config={k: v for k, v in cfg.items()})

    def compute_digest(self) -> str:
        """A stable hash of everything that shapes a run (not of names used only in messages)."""
        blob = json.dumps({
            "machine": self.machine,
            "pages": [(p.name, p.zone.name, p.data.hex()) for p in self.pages],
            "contexts": [(c.kind, c.name, c.cpu, c.ops, c.max, c.sa_interrupt) for c in self.contexts],
            "expects": [(e.page, e.offset, e.data.hex()) for e in self.expects],
        }, sort_keys=True, default=str)
        return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()[:32]

    def workload(self, m: Machine) -> Workload:
        """Allocate the pages on ``m``, fill them, and compile every context's code."""
        from highmem.scenarios.ops import compile_ops

        pages: dict[str, Page] = {}
        for p in self.pages:
            page = m.allocator.alloc_page({Zone.ZONE_HIGHMEM: "GFP_HIGHUSER", Zone.ZONE_NORMAL: "GFP_KERNEL",
                                           Zone.ZONE_DMA: "GFP_DMA"}[p.zone])
            if page is None or page.zone is not p.zone:
                raise HighmemError(f"scenario {self.name}: page {p.name!r} needs a free frame in {p.zone.name}, "
                                   "and this machine has none (give it more memory)")
            if p.data:
                m.phys.write(page.phys, p.data[:PAGE_SIZE])
            pages[p.name] = page
        tasks: list[TaskSpec] = []
        irqs: list[IrqSpec] = []
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
            for e in self.expects:
                page = pages[e.page]
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
