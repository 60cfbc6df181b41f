"""The pytest plugin (entry point pytest11): fixture, marker, options, assertion messages, usage errors."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_plugin_fixture_and_marker_explore(pytester: pytest.Pytester) -> None:
    """The marker's schedules and strategy reach the fixture's exploration; expected findings pass."""
    pytester.makepyfile("""
        import pytest

        @pytest.mark.highmem(schedules=7, strategy="random", seed=3)
        def test_sleep(highmem_explore, highmem_assert_expected):
            ex = highmem_explore("sleep-holding-kmap")
            assert (ex.schedules, ex.strategy, ex.seed) == (7, "random", 3)
            highmem_assert_expected(ex)
    """)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_plugin_options_override_the_marker(pytester: pytest.Pytester) -> None:
    """--highmem-schedules and --highmem-seed win over the marker."""
    pytester.makepyfile("""
        import pytest

        @pytest.mark.highmem(schedules=7, seed=3)
        def test_it(highmem_explore):
            ex = highmem_explore("copy-highpage")
            assert (ex.schedules, ex.seed) == (5, 11)
    """)
    pytester.runpytest("--highmem-schedules", "5", "--highmem-seed", "11").assert_outcomes(passed=1)


def test_plugin_failure_shows_finding_schedule_and_replay(pytester: pytest.Pytester) -> None:
    """A failing assert_clean names the finding, its shrunk schedule and a replay command that works."""
    pytester.makepyfile("""
        import pytest

        @pytest.mark.highmem(schedules=20)
        def test_dirty(highmem_explore, highmem_assert_clean):
            highmem_assert_clean(highmem_explore("km-irq-collision-2005"))
    """)
    res = pytester.runpytest()
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines([
        "*AssertionError: km-irq-collision-2005 is not clean:",
        "*km-irq-collision-2005: slot-in-use (first in schedule 0, in 2 of 20 schedules)",
        "*mlx#1 on CPU 0: kernel BUG in kmap_atomic_prot: slot KM_IRQ0 of CPU 0*",
        "*schedule: 25: irq mlx@0",
        "*replay: highmem check --replay */highmem/km-irq-collision-2005.slot-in-use.schedule.json",
    ])
    path = next(line for line in res.stdout.lines if "replay: highmem check --replay" in line).split("--replay ")[1]
    from highmem.cli import main

    assert main(["check", "--replay", path.strip()]) == 1


@pytest.mark.parametrize(("marker", "message"), [
    ("schedule=5", "@pytest.mark.highmem has no argument 'schedule': allowed are config, depth, "),
    ("schedules='many'", "@pytest.mark.highmem schedules='many' must be int"),
    ("strategy='dfs'", "@pytest.mark.highmem strategy='dfs' does not exist: choose random, pct, exhaustive or dpor"),
    ("schedules=0", "@pytest.mark.highmem schedules=0 must be at least 1"),
])
def test_plugin_bad_marker_is_a_usage_error(pytester: pytest.Pytester, marker: str, message: str) -> None:
    """A bad marker argument ends the session as a usage error naming the test, without a traceback."""
    pytester.makepyfile(f"""
        import pytest

        @pytest.mark.highmem({marker})
        def test_it(highmem_explore):
            pass
    """)
    res = pytester.runpytest()
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    err = res.stderr.str()
    assert "test_plugin_bad_marker_is_a_usage_error.py::test_it: " + message in err
    assert "Traceback" not in err + res.stdout.str()


def test_plugin_bad_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """--highmem-schedules 0 is a usage error."""
    pytester.makepyfile("def test_x():\n    pass\n")
    res = pytester.runpytest("--highmem-schedules", "0")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert "--highmem-schedules 0 is invalid: explore at least one schedule" in res.stderr.str()
