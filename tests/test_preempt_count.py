"""Preempt and page-fault counts: 5.15's separate pagefault_disabled counter, and DEBUG_PREEMPT."""

from __future__ import annotations

import pytest

import highmem
from highmem.errors import HighmemError
from highmem.events import Warn


def test_preempt_count_5_15_unbalanced_unmap_goes_negative() -> None:
    """5.15 include/linux/highmem-internal.h __kunmap_atomic: pagefault_enable then preempt_enable, unchecked
    without CONFIG_DEBUG_PREEMPT: an unmap without a map takes both counters to -1, silently."""
    m = highmem.boot("linux-5.11")
    events: list[object] = []
    m.subscribe(events.append)
    m.kunmap_atomic(0xC1000000)
    d = m.current.data
    assert (d["preempt_count"], d["pagefault_disabled"], [e for e in events if isinstance(e, Warn)]) == (-1, -1, [])


@pytest.mark.parametrize("profile", ["linux-2.6", "linux-2.6.37", "linux-5.11"])
def test_preempt_count_debug_preempt_warns_and_refuses(profile: str) -> None:
    """kernel/sched/core.c preempt_count_sub (5.15), sub_preempt_count (2.6.39): with DEBUG_PREEMPT an enable
    below 0 is DEBUG_LOCKS_WARN_ON and the count stays 0."""
    m = highmem.boot(profile, config={"PREEMPT": True, "DEBUG_PREEMPT": True})
    events: list[object] = []
    m.subscribe(events.append)
    m.kunmap_atomic(0xC1000000, "KM_USER0")
    warns = [e for e in events if isinstance(e, Warn)]
    assert (m.current.data.get("preempt_count", 0), [w.function for w in warns][:1]) == (0, ["preempt_enable"])


def test_preempt_count_2_6_39_pagefault_disable_is_the_preempt_count() -> None:
    """2.6.39 include/linux/uaccess.h: pagefault_disable is inc_preempt_count, so kmap_atomic adds 1 to the
    preempt count and there is no second counter."""
    m = highmem.boot("linux-2.6.37")
    m.kmap_atomic(m.alloc_highpage(), "KM_USER0")
    assert (m.current.data["preempt_count"], "pagefault_disabled" in m.current.data) == (1, False)


@pytest.mark.parametrize("profile", ["linux-2.6", "linux-2.6.37", "linux-5.11"])
def test_preempt_count_debug_preempt_needs_preempt(profile: str) -> None:
    """lib/Kconfig.debug (2.6.39, 5.15): DEBUG_PREEMPT depends on a preemptible kernel: one sentence."""
    with pytest.raises(HighmemError) as e:
        highmem.make_config(profile, config={"DEBUG_PREEMPT": True})
    assert str(e.value) == ("config DEBUG_PREEMPT=y needs PREEMPT=y: Kconfig makes DEBUG_PREEMPT depend on a "
                            "preemptible kernel")


def test_preempt_count_debug_preempt_not_in_2_4() -> None:
    """2.4 has no preempt count: DEBUG_PREEMPT is refused naming why."""
    with pytest.raises(HighmemError) as e:
        highmem.make_config("linux-2.4", config={"DEBUG_PREEMPT": True})
    assert str(e.value) == ("config option 'DEBUG_PREEMPT' does not apply to profile linux-2.4: 2.4 has no "
                            "preemptible kernel, so no preempt count to debug")
