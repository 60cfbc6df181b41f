"""Shared fixtures: booting machines and recording their event traces."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import highmem


@pytest.fixture
def record() -> Callable[[highmem.Machine], list[Any]]:
    """Subscribe a list to a machine's events and return the list."""

    def attach(machine: highmem.Machine) -> list[Any]:
        events: list[Any] = []
        machine.subscribe(events.append)
        return events

    return attach


@pytest.fixture
def smp2() -> highmem.Machine:
    """The default machine: SMP 2.4.22, NR_CPUS 32, 2 online CPUs, 2 GiB, non-debug."""
    return highmem.boot("linux-2.4", cpus=2, memory="2G")


@pytest.fixture
def smp2_debug() -> highmem.Machine:
    """The default machine with CONFIG_DEBUG_HIGHMEM."""
    return highmem.boot("linux-2.4", cpus=2, memory="2G", config={"DEBUG_HIGHMEM": True})
