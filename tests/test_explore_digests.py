"""Explorations restored from a snapshot give the results that booting afresh for every schedule gave."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from explore_digest_support import cell_digests
from highmem.profiles import PROFILE_NAMES
from highmem.scenarios import builtin_names

PINNED = json.loads((Path(__file__).parent / "data" / "explore_digests.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", builtin_names())
def test_explore_digests_match_fresh_boot_pins(name: str) -> None:
    """Every strategy's exploration JSON and its findings' traces hash as pinned before snapshots existed."""
    for profile in PROFILE_NAMES:
        assert cell_digests(name, profile) == PINNED[f"{name} {profile}"], (name, profile)
