"""When an exploration snapshots its machine: the second boot, or the third when only two runs are planned."""

from __future__ import annotations

import pytest

from highmem.scenarios import load_builtin
from highmem.sim.explore import Booted


@pytest.mark.parametrize(("planned", "snapshot_after"), [(None, 2), (1, 2), (2, 3), (3, 2), (100, 2)])
def test_snapshot_taken_after(planned: int | None, snapshot_after: int) -> None:
    """The snapshot is of the second boot, unless exactly two runs are planned: then of the third."""
    sc = load_builtin("copy-highpage")
    booted = Booted(sc, sc.config(), planned=planned)
    for n in range(1, 5):
        booted.acquire()
        assert (booted.snap is not None) == (n >= snapshot_after), n
        assert booted.boots == min(n, snapshot_after)
