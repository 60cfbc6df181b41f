"""The pytest plugin of highmem (entry point ``pytest11``: ``highmem``).

* ``--highmem-schedules N`` / ``--highmem-seed S``: override the schedules and seed of every
  exploration the fixture runs (e.g. many more schedules in a nightly job).
* ``@pytest.mark.highmem(schedules=..., strategy=..., seed=..., profile=..., depth=..., config=[...])``:
  a test's defaults.  A bad argument is a pytest usage error naming the test.
* ``highmem_explore(scenario, **overrides)``: a fixture that explores a scenario (a built-in name,
  a file, or a :class:`~highmem.scenarios.Scenario`) and returns the Exploration, with the
  marker's and the command line's settings applied.
* ``highmem_assert_clean(ex)`` / ``highmem_assert_expected(ex)``: fixtures wrapping the helpers of
  :mod:`highmem.testing`, writing replayable schedule files under the test's ``tmp_path``.

Loaded in every pytest session of an environment where highmem is installed, so it imports
nothing of the model until a test uses a fixture.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

__all__ = ["MARKER_ARGS"]

#: Marker argument -> the types it accepts.
MARKER_ARGS: dict[str, tuple[type, ...]] = {
    "schedules": (int,), "strategy": (str,), "seed": (int,), "profile": (str,), "depth": (int,),
    "config": (list, tuple), "max_preemptions": (int,), "max_interrupts": (int,),
}
STRATEGIES = ("random", "pct", "exhaustive", "dpor")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("highmem", "highmem explorations")
    group.addoption("--highmem-schedules", type=int, default=None, metavar="N",
                    help="schedules per exploration of the highmem_explore fixture (overrides markers)")
    group.addoption("--highmem-seed", type=int, default=None, metavar="S",
                    help="seed of the highmem_explore fixture's explorations (overrides markers)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "highmem(schedules=100, strategy='pct', seed=0, profile=None, depth=2, "
                            "config=[]): defaults of the highmem_explore fixture for this test")
    for opt in ("highmem_schedules",):
        v = config.getoption(opt)
        if v is not None and v < 1:
            raise pytest.UsageError(f"--highmem-schedules {v} is invalid: explore at least one schedule")


def _check_marker(nodeid: str, mark: pytest.Mark) -> dict[str, Any]:
    if mark.args:
        raise pytest.UsageError(f"{nodeid}: @pytest.mark.highmem takes keyword arguments only, got "
                                f"{len(mark.args)} positional")
    for k, v in mark.kwargs.items():
        if k not in MARKER_ARGS:
            raise pytest.UsageError(f"{nodeid}: @pytest.mark.highmem has no argument {k!r}: allowed are "
                                    f"{', '.join(sorted(MARKER_ARGS))}")
        types = MARKER_ARGS[k]
        if isinstance(v, bool) or not isinstance(v, types):
            if not (k == "profile" and v is None):
                raise pytest.UsageError(f"{nodeid}: @pytest.mark.highmem {k}={v!r} must be "
                                        f"{' or '.join(t.__name__ for t in types)}")
    if "strategy" in mark.kwargs and mark.kwargs["strategy"] not in STRATEGIES:
        raise pytest.UsageError(f"{nodeid}: @pytest.mark.highmem strategy={mark.kwargs['strategy']!r} does not "
                                "exist: choose random, pct, exhaustive or dpor")
    for k in ("schedules", "depth"):
        if k in mark.kwargs and mark.kwargs[k] < 1:
            raise pytest.UsageError(f"{nodeid}: @pytest.mark.highmem {k}={mark.kwargs[k]} must be at least 1")
    return dict(mark.kwargs)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for mark in item.iter_markers("highmem"):
            _check_marker(item.nodeid, mark)


@pytest.fixture
def highmem_explore(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Explore a scenario with the test's marker settings and the command line's overrides."""
    settings: dict[str, Any] = {"schedules": 100, "strategy": "pct", "seed": 0, "profile": None, "depth": 2,
                                "config": [], "max_preemptions": 2, "max_interrupts": 2}
    for mark in reversed(list(request.node.iter_markers("highmem"))):
        settings.update(mark.kwargs)
    for opt, key in (("highmem_schedules", "schedules"), ("highmem_seed", "seed")):
        v = request.config.getoption(opt)
        if v is not None:
            settings[key] = v

    def run(scenario: Any, **overrides: Any) -> Any:
        from highmem.scenarios import Scenario, resolve
        from highmem.sim.explore import explore

        s = dict(settings, **overrides)
        sc = scenario if isinstance(scenario, Scenario) else resolve(str(scenario))
        cfg = sc.config(s["profile"], list(s["config"]))
        return explore(sc, cfg, strategy=s["strategy"], schedules=s["schedules"], seed=s["seed"], depth=s["depth"],
                       max_preemptions=s["max_preemptions"], max_interrupts=s["max_interrupts"])

    return run


@pytest.fixture
def highmem_assert_clean(tmp_path: Any) -> Callable[[Any], None]:
    """``highmem_assert_clean(ex)``: fail unless nothing was found (schedule files under tmp_path)."""
    from highmem.testing import assert_clean

    return lambda ex: assert_clean(ex, out_dir=tmp_path / "highmem")


@pytest.fixture
def highmem_assert_expected(tmp_path: Any) -> Callable[[Any], None]:
    """``highmem_assert_expected(ex)``: fail unless the kinds found equal the scenario's expect list."""
    from highmem.testing import assert_expected

    return lambda ex: assert_expected(ex, out_dir=tmp_path / "highmem")
