"""Findings say where each operation involved sits and why the window was open (issue 13)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from highmem.cli import main
from highmem.events import ContextEvent
from highmem.report.window import why_open
from highmem.sim.findings import Finding


def _line_of(scenario: str, needle: str) -> int:
    text = (resources.files("highmem.scenarios") / "builtin" / f"{scenario}.toml").read_text()
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _out(capsys: Any, argv: list[str]) -> str:
    main(argv)
    return str(capsys.readouterr().out)


def _finding(capsys: Any, scenario: str, kind: str) -> dict[str, Any]:
    run = json.loads(_out(capsys, ["check", scenario, "--json"]))
    return next(f for f in run["findings"] if f["kind"] == kind)


def test_window_irq_names_the_ops_and_the_enabled_interrupts(capsys: Any) -> None:
    """An interrupt that took a task's KM_USER0: the map, the clobbering map and the load are
    located at their TOML lines, and the window names IF on CPU 0 from the map onwards."""
    f = _finding(capsys, "irq-uses-user-slot", "stale-access")
    ops = {(o["context"], o["at"]) for o in f["operations"]}
    toml = "builtin:irq-uses-user-slot.toml"
    needles = ('page = "user"', 'page = "irqbuf"', 'op = "load"')
    user, irqbuf, load = (_line_of("irq-uses-user-slot", n) for n in needles)
    assert ("writer", f"{toml}:{user}") in ops
    assert (f["contexts"][1], f"{toml}:{irqbuf}") in ops
    assert ("writer", f"{toml}:{load}") in ops
    map_step, clobber_step = f["steps"][0], f["steps"][1]
    prefix = f"interrupts were enabled on CPU 0 from step {map_step} to "
    assert f["window"].startswith(prefix)
    assert f["window"].endswith(" while writer held KM_USER0, so eth0 could run there")
    arrival = int(f["window"][len(prefix):].split()[0])
    assert map_step < arrival <= clobber_step


def test_window_task_names_the_sleep(capsys: Any) -> None:
    """A task that slept holding KM_USER0: the window is its sleep, and the text says who ran."""
    f = _finding(capsys, "sleep-holding-kmap", "stale-access")
    assert f["window"] == "holder left the CPU (sleep) at step 3 while holder held KM_USER0, so other ran on CPU 0"


def test_window_terminal_prints_steps_and_why(capsys: Any) -> None:
    """The terminal report prints one line per operation involved and the window sentence."""
    out = _out(capsys, ["check", "sleep-holding-kmap"])
    line = _line_of("sleep-holding-kmap", 'op = "wait_for_completion"')
    assert f"  step 3: holder at builtin:sleep-holding-kmap.toml:{line} wait_for_completion(completion=io)" in out
    assert "  why: holder left the CPU (sleep) at step 3 while holder held KM_USER0, so other ran on CPU 0" in out


def _ev(cpu: int, ctx: str, kind: str, what: str) -> ContextEvent:
    return ContextEvent(cpu, ctx, kind, what, "")


def test_window_softirq_starts_when_bottom_halves_were_enabled() -> None:
    """A softirq window opens at the last choice point from which bottom halves stayed enabled."""
    f = Finding("stale-access", "m", cpu=0, contexts=["rx", "NET_RX#1"], slot={"type": "KM_SOFTIRQ0"}, steps=[1, 9])
    closed, bh_off, opened = (True, 0, 0), (True, 0, 1), (True, 0, 0)
    points = [(1, (closed,)), (2, (bh_off,)), (3, (opened,)), (6, (opened,)), (9, (opened,)), (12, (bh_off,))]
    events = [(1, _ev(0, "rx", "task", "start")), (9, _ev(0, "NET_RX#1", "softirq", "softirq_enter"))]
    assert why_open(f, points, events) == ("bottom halves were enabled on CPU 0 from step 3 to 9 while rx held "
                                           "KM_SOFTIRQ0, so NET_RX could run there")


def test_window_none_for_other_cpu_or_single_context() -> None:
    """No window sentence for a finding of one context, or an intruder on another CPU."""
    one = Finding("exit-in-atomic", "m", cpu=0, contexts=["a"], steps=[1])
    assert why_open(one, [], []) is None
    two = Finding("stale-access", "m", cpu=0, contexts=["a", "h#1"], slot={"type": "KM_USER0"}, steps=[1, 4])
    assert why_open(two, [(1, ((True, 0, 0), (True, 0, 0)))], [(3, _ev(1, "h#1", "hardirq", "irq_enter"))]) is None
