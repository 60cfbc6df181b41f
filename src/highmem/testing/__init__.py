"""Testing with highmem: assertion helpers for explorations, and the pytest plugin.

The plugin (:mod:`highmem.testing.plugin`, registered as the ``pytest11`` entry point ``highmem``)
gives a test the ``highmem_explore`` fixture, the ``@pytest.mark.highmem(...)`` marker and the
``--highmem-schedules``/``--highmem-seed`` options; docs/library.md shows them in use.

The helpers raise :class:`AssertionError` whose message shows each finding, its shrunk schedule
and the command that replays it::

    ex = highmem.explore(sc, sc.config(), schedules=200)
    assert_clean(ex)                 # fails naming every finding
    assert_expected(ex)              # fails unless the kinds found equal sc.expect
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["assert_clean", "assert_expected", "assert_findings", "describe"]


def _replay_command(ex: Any, kind: str, out_dir: str | Path | None) -> str:
    src = ex.scenario.source or ex.scenario.name
    target = src.removeprefix("builtin:")
    if out_dir is not None:
        from highmem.report.ci import schedule_doc
        from highmem.sim.schedule import save_schedule

        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        path = d / f"{ex.scenario.name}.{kind}.schedule.json"
        save_schedule(path, schedule_doc(ex, kind, []))
        return f"highmem check --replay {path}"
    return (f"highmem check {target} --profile {ex.config.profile} --strategy {ex.strategy} "
            f"--schedules {ex.schedules} --seed {ex.seed}")


def describe(ex: Any, kinds: list[str] | None = None, out_dir: str | Path | None = None) -> str:
    """The findings of ``ex`` (or only ``kinds``), each with its shrunk schedule and replay command.

    With ``out_dir``, each finding's schedule file is written there and the command replays it;
    without, the command explores again with the same strategy, schedules and seed.
    """
    from highmem.words import plural

    lines = []
    for kind, rep in ex.by_kind.items():
        if kinds is not None and kind not in kinds:
            continue
        sched = ", ".join(f"{p}: {lab}" for p, lab in rep.choices) or "the default schedule"
        lines.append(f"{ex.scenario.name}: {kind} (first in schedule {rep.first_schedule}, in {rep.schedules} "
                     f"of {plural(ex.schedules, 'schedule')})")
        lines.append(f"  {rep.finding.message}")
        lines.append(f"  schedule: {sched}")
        lines.append(f"  replay: {_replay_command(ex, kind, out_dir)}")
    return "\n".join(lines)


def assert_clean(ex: Any, out_dir: str | Path | None = None) -> None:
    """Fail unless ``ex`` found nothing."""
    if ex.counts:
        raise AssertionError(f"{ex.scenario.name} is not clean:\n" + describe(ex, out_dir=out_dir))


def assert_findings(ex: Any, expected: list[str] | set[str], out_dir: str | Path | None = None) -> None:
    """Fail unless the kinds ``ex`` found are exactly ``expected``."""
    found, want = set(ex.counts), set(expected)
    if found == want:
        return
    parts = []
    if want - found:
        parts.append(f"expected {', '.join(sorted(want - found))} but no schedule of {ex.schedules} found it")
    if found - want:
        parts.append(f"found {', '.join(sorted(found - want))}, not expected:\n"
                     + describe(ex, sorted(found - want), out_dir))
    raise AssertionError(f"{ex.scenario.name}: " + "; ".join(parts))


def assert_expected(ex: Any, out_dir: str | Path | None = None) -> None:
    """Fail unless the kinds ``ex`` found equal its scenario's ``expect`` list."""
    assert_findings(ex, ex.scenario.expect, out_dir)
