"""highmem: an executable model of Linux's atomic high-memory mappings on 32-bit x86.

Boot a simulated machine, map high pages with ``kmap_atomic`` exactly as a
chosen kernel generation did, and watch every PTE write, TLB flush, load and
store as events; write scenarios, explore their schedules, and read what the
checker found.  ``docs/library.md`` is the guide; this is the public API:

=====================  ==============================================================
machine                ``boot``, ``Machine``, ``KernelConfig``, ``make_config``, ``Page``,
                       ``Zone``, ``VirtAddr``
scenarios              ``Scenario``, ``ContextSpec``, ``PageSpec``, ``ExpectSpec``,
                       ``resolve``, ``load_builtin``, ``builtin_names``, ``load_toml``,
                       ``load_toml_text``, ``load_python``
exploration            ``explore``, ``run_once``, ``replay``, ``Exploration``, ``KindReport``,
                       ``Finding``, ``FINDING_KINDS``
traces                 ``record_trace``, ``render_html``
errors                 ``HighmemError``, ``KernelBUG``, ``Oops``, ``PageFault``, ``SimulatorError``
=====================  ==============================================================

Every name is imported on first use (PEP 562), so ``import highmem`` costs almost nothing
and a program pays only for the layers it touches.
"""

from __future__ import annotations

from highmem._lazy import lazy_exports

# Neither typing nor importlib at import time: `import highmem` must stay cheap.
TYPE_CHECKING = False

__version__ = "0.2.0"

#: Public name -> the module that defines it.
_EXPORTS = {
    "HighmemError": "highmem.errors", "KernelBUG": "highmem.errors", "Oops": "highmem.errors",
    "PageFault": "highmem.errors", "SimulatorError": "highmem.errors",
    "Page": "highmem.hw.physmem", "Zone": "highmem.hw.physmem",
    "KernelConfig": "highmem.kernel.config", "make_config": "highmem.profiles",
    "Machine": "highmem.kernel.machine", "boot": "highmem.profiles",
    "VirtAddr": "highmem.kernel.vaddr",
    "Scenario": "highmem.scenarios", "ContextSpec": "highmem.scenarios", "PageSpec": "highmem.scenarios",
    "ExpectSpec": "highmem.scenarios", "resolve": "highmem.scenarios", "load_builtin": "highmem.scenarios",
    "builtin_names": "highmem.scenarios", "load_toml": "highmem.scenarios", "load_toml_text": "highmem.scenarios",
    "load_python": "highmem.scenarios",
    "explore": "highmem.sim.explore", "run_once": "highmem.sim.explore", "Exploration": "highmem.sim.explore",
    "KindReport": "highmem.sim.explore",
    "Finding": "highmem.sim.findings", "FINDING_KINDS": "highmem.sim.findings",
    "replay": "highmem.api", "record_trace": "highmem.api", "render_html": "highmem.report.html",
}

__all__ = [
    "ContextSpec", "ExpectSpec", "Exploration", "FINDING_KINDS", "Finding", "HighmemError", "KernelBUG",
    "KernelConfig", "KindReport", "Machine", "Oops", "Page", "PageFault", "PageSpec", "Scenario",
    "SimulatorError", "VirtAddr", "Zone", "boot", "builtin_names", "explore", "load_builtin", "load_python",
    "load_toml", "load_toml_text", "make_config", "record_trace", "render_html", "replay", "resolve",
    "run_once",
    "__version__",
]

if TYPE_CHECKING:
    from highmem.api import record_trace, replay
    from highmem.errors import HighmemError, KernelBUG, Oops, PageFault, SimulatorError
    from highmem.hw.physmem import Page, Zone
    from highmem.kernel.config import KernelConfig
    from highmem.kernel.machine import Machine
    from highmem.kernel.vaddr import VirtAddr
    from highmem.profiles import boot, make_config
    from highmem.report.html import render_html
    from highmem.scenarios import (
        ContextSpec,
        ExpectSpec,
        PageSpec,
        Scenario,
        builtin_names,
        load_builtin,
        load_python,
        load_toml,
        load_toml_text,
        resolve,
    )
    from highmem.sim.explore import Exploration, KindReport, explore, run_once
    from highmem.sim.findings import FINDING_KINDS, Finding


__getattr__, __dir__ = lazy_exports("highmem", _EXPORTS, globals())
