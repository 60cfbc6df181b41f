"""Shared fixtures: booting machines and recording their event traces."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import settings

import highmem

# In CI the property tests draw the same examples on every run (derandomize): a red CI run then
# names a failure anyone can reproduce, not one a later run may not draw.  Local runs stay random,
# which is where new counterexamples come from.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")


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
