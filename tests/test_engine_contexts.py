"""The engine's contexts: interrupt delivery, interrupt state, softirqs, sleeping, completions, IPIs, exit."""

from __future__ import annotations

from typing import Any

import pytest

from highmem.scenarios import load_toml_text
from highmem.scenarios.model import ContextSpec, Scenario
from highmem.sim import explore as explore_mod
from highmem.sim.explore import explore, run_once
from highmem.sim.strategy import DefaultStrategy

UP = """
[machine]
cpus = 1
"""


def _load(text: str) -> Scenario:
    return load_toml_text(text, "t.toml")


def _run(text: str, *, trace: bool = True) -> tuple[Any, Any]:
    sc = _load(text)
    return run_once(sc, sc.config(), DefaultStrategy(), trace=trace)


def _ctx(rec: Any, *fields: str) -> list[tuple[Any, ...]]:
    return [tuple(r[f] for f in fields) for r in rec.records if r["kind"] == "context"]


def _python(contexts: list[ContextSpec], cpus: int = 1) -> Scenario:
    sc = Scenario(name="py", machine={"cpus": cpus}, contexts=contexts)
    sc.python = True
    sc.digest = "x"
    return sc


def _traced_exhaustive(sc: Scenario, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> tuple[Any, list[Any]]:
    """Run the exhaustive explorer and keep the trace of every schedule it runs."""
    traces: list[list[dict[str, Any]]] = []
    real = explore_mod.run_once

    def spy(sc_: Scenario, cfg: Any, strat: Any, *, trace: bool = False, **kw: Any) -> Any:
        res, rec = real(sc_, cfg, strat, trace=True, **kw)
        traces.append(rec.records)
        return res, rec

    monkeypatch.setattr(explore_mod, "run_once", spy)
    ex = explore(sc, sc.config(), strategy="exhaustive", do_shrink=False, **kw)
    return ex, traces


CLI_STI = UP + """
[[task]]
name = "t"
ops = [
  { op = "work", steps = 2 },
  { op = "cli" },
  { op = "work", steps = 3 },
  { op = "sti" },
  { op = "work", steps = 2 },
]

[[irq]]
name = "timer"
max = 1
ops = [{ op = "work", steps = 1 }]
"""


def test_engine_irq_never_delivered_between_cli_and_sti(monkeypatch: pytest.MonkeyPatch) -> None:
    """In every schedule the optional IRQ arrives outside the task's cli..sti window, never inside it."""
    ex, traces = _traced_exhaustive(_load(CLI_STI), monkeypatch, schedules=100, max_interrupts=1,
                                    max_preemptions=0)
    # Choice points with the irq on offer: before the task starts (step 0), at work 1, work 2 and the
    # cli itself (IF is still on there), and at the two work steps after sti; plus the default schedule.
    assert ex.exhausted and ex.schedules == 7 == len(traces)
    enter_steps = []
    for recs in traces:
        flags = [i for i, r in enumerate(recs) if r["kind"] == "irq_flags" and r["context"] == "t"]
        assert [(recs[i]["op"], recs[i]["enabled"]) for i in flags] == [("__cli", False), ("__sti", True)]
        enters = [i for i, r in enumerate(recs) if r["kind"] == "context" and r["what"] == "irq_enter"]
        assert len(enters) <= 1
        if enters:
            assert not flags[0] < enters[0] < flags[1]
            enter_steps.append(recs[enters[0]]["step"])
    # The default schedule takes no optional interrupt ("up to max"); the six others take it once each.
    assert sorted(enter_steps) == [0, 1, 2, 3, 8, 9]


def test_engine_in_interrupt_values_per_context() -> None:
    """in_interrupt/in_irq/in_softirq: all false in a task, bh-disabled task, hardirq and softirq as 2.4 defines."""
    seen: list[tuple[str, bool, bool, bool]] = []

    def note(k: Any, what: str) -> None:
        seen.append((what, k.in_interrupt(), k.in_irq(), k.in_softirq()))

    def task(k: Any, pages: Any) -> None:
        note(k, "task")
        k.local_bh_disable()
        note(k, "task, bh disabled")
        k.local_bh_enable()
        k.raise_irq("hw")
        k.save_flags()  # a scheduling point: the pending interrupt is delivered here
        note(k, "task, after the irq")

    def hw(k: Any, pages: Any) -> None:
        note(k, "hardirq")
        k.raise_softirq("soft")

    def soft(k: Any, pages: Any) -> None:
        note(k, "softirq")

    sc = _python([ContextSpec("task", "t", 0, fn=task), ContextSpec("irq", "hw", 0, fn=hw, max=0),
                  ContextSpec("softirq", "soft", 0, fn=soft, max=0)])
    res, _ = run_once(sc, sc.config(), DefaultStrategy())
    assert res.status == "done" and res.findings == []
    assert seen == [
        ("task", False, False, False),
        ("task, bh disabled", True, False, True),
        ("hardirq", True, True, False),
        ("softirq", True, False, True),
        ("task, after the irq", False, False, False),
    ]


def test_engine_softirq_runs_at_irq_exit() -> None:
    """A softirq raised by a hard-IRQ handler runs right after irq_exit, before the interrupted task resumes."""
    res, rec = _run(UP + """
[[task]]
name = "t"
ops = [{ op = "raise_irq", irq = "hw" }, { op = "work", steps = 2 }]

[[irq]]
name = "hw"
max = 0
ops = [{ op = "raise_softirq", softirq = "soft" }, { op = "work", steps = 1 }]

[[softirq]]
name = "soft"
ops = [{ op = "work", steps = 1 }]
""")
    assert res.status == "done" and res.findings == []
    assert _ctx(rec, "step", "context", "what", "detail") == [
        (0, "t", "start", ""),
        (2, "hw#1", "irq_enter", "hw"),
        (4, "hw#1", "irq_exit", "hw"),
        (4, "hw#1", "end", "hw"),
        (4, "soft#1", "softirq_enter", "soft"),
        (5, "soft#1", "softirq_exit", "soft"),
        (5, "soft#1", "end", "soft"),
        (6, "t", "end", "exit"),
    ]


def _bh_scenario(runs: list[list[str]], disable: bool) -> Scenario:
    def task(k: Any, pages: Any) -> None:
        runs.append([])
        log = runs[-1]
        if disable:
            k.local_bh_disable()
        k.raise_softirq("net")
        log.append("raised")
        k.save_flags()
        k.save_flags()
        log.append("enabling")
        if disable:
            k.local_bh_enable()
        else:
            k.save_flags()
        log.append("enabled")

    def net(k: Any, pages: Any) -> None:
        runs[-1].append("softirq")

    return _python([ContextSpec("task", "t", 0, fn=task), ContextSpec("softirq", "net", 0, fn=net, max=0)])


def test_engine_local_bh_disable_defers_softirq_until_enable() -> None:
    """A softirq raised under local_bh_disable runs inside local_bh_enable in every schedule, never earlier."""
    runs: list[list[str]] = []
    ex = explore(_bh_scenario(runs, True), _bh_scenario(runs, True).config(), strategy="exhaustive",
                 schedules=50, max_interrupts=2, max_preemptions=2, do_shrink=False)
    assert ex.exhausted and ex.schedules == 1
    assert ex.counts == {}
    assert runs == [["raised", "enabling", "softirq", "enabled"]]


def test_engine_pending_softirq_may_run_early_without_bh_disable() -> None:
    """Contrast: without local_bh_disable some schedule runs the raised softirq before the task's next mark."""
    runs: list[list[str]] = []
    sc = _bh_scenario(runs, False)
    ex = explore(sc, sc.config(), strategy="exhaustive", schedules=50, max_interrupts=1, max_preemptions=0,
                 do_shrink=False)
    assert ex.exhausted and ex.schedules == len(runs) > 1
    assert ["raised", "softirq", "enabling", "enabled"] in runs


@pytest.mark.parametrize("kind", ["irq", "softirq"])
def test_engine_schedule_in_interrupt_is_kernel_bug(kind: str) -> None:
    """schedule() from a hard IRQ or a softirq is 2.4's 'Scheduling in interrupt' BUG; the run stops."""
    raise_op = "raise_irq" if kind == "irq" else "raise_softirq"
    res, _ = _run(UP + f"""
[[task]]
name = "t"
ops = [{{ op = "{raise_op}", {kind} = "h" }}, {{ op = "work", steps = 1 }}]

[[{kind}]]
name = "h"
max = 0
ops = [{{ op = "schedule" }}]
""")
    assert res.status == "stopped"
    assert res.stop_reason == "kernel BUG in schedule: Scheduling in interrupt on CPU 0"
    assert [(f.kind, f.message, f.cpu, f.contexts, f.steps) for f in res.findings] == [
        ("kernel-bug", "h#1 on CPU 0: kernel BUG in schedule: Scheduling in interrupt on CPU 0", 0, ["h#1"], [3])]


def test_engine_sleep_and_wake_up() -> None:
    """A task sleeping on a queue runs again after another task's wake_up, and the run ends done."""
    res, rec = _run(UP + """
[[task]]
name = "A"
ops = [{ op = "sleep", queue = "q" }, { op = "work", steps = 1 }]

[[task]]
name = "B"
ops = [{ op = "wake", queue = "q" }]
""")
    assert res.status == "done" and res.findings == [] and res.steps == 3
    assert _ctx(rec, "context", "what", "detail") == [
        ("A", "start", ""), ("A", "switch_out", "sleep"), ("B", "start", ""), ("A", "wake", "q"),
        ("B", "end", "exit"), ("A", "switch_in", ""), ("A", "end", "exit")]


def test_engine_wait_for_completion_then_complete() -> None:
    """A waiter sleeps on completion:NAME and is woken by complete()."""
    res, rec = _run(UP + """
[[task]]
name = "B"
ops = [{ op = "wait_for_completion", completion = "c" }, { op = "work", steps = 1 }]

[[task]]
name = "A"
ops = [{ op = "complete", completion = "c" }]
""")
    assert res.status == "done" and res.findings == []
    assert _ctx(rec, "context", "what", "detail") == [
        ("B", "start", ""), ("B", "switch_out", "sleep"), ("A", "start", ""), ("B", "wake", "completion:c"),
        ("A", "end", "exit"), ("B", "switch_in", ""), ("B", "end", "exit")]


def test_engine_complete_before_wait_is_not_lost() -> None:
    """complete() before wait_for_completion() is counted: the waiter does not sleep (no lost wake-up)."""
    res, rec = _run(UP + """
[[task]]
name = "A"
ops = [{ op = "complete", completion = "c" }, { op = "complete", completion = "c" }]

[[task]]
name = "B"
ops = [
  { op = "wait_for_completion", completion = "c" },
  { op = "wait_for_completion", completion = "c" },
]
""")
    assert res.status == "done" and res.findings == []
    assert ("B", "switch_out", "sleep") not in _ctx(rec, "context", "what", "detail")


def test_engine_wake_up_before_sleep_is_lost() -> None:
    """Contrast with completions: a wake_up before sleep_on is lost and the sleeper deadlocks."""
    res, _ = _run(UP + """
[[task]]
name = "A"
ops = [{ op = "wake", queue = "q" }]

[[task]]
name = "B"
ops = [{ op = "sleep", queue = "q" }]
""")
    assert res.status == "deadlocked"
    assert [f.kind for f in res.findings] == ["deadlock"]


def test_engine_more_waits_than_completions_deadlock() -> None:
    """Two completions satisfy two waits but not a third: the third wait deadlocks."""
    res, _ = _run(UP + """
[[task]]
name = "A"
ops = [{ op = "complete", completion = "c" }, { op = "complete", completion = "c" }]

[[task]]
name = "B"
ops = [{ op = "repeat", count = 3, ops = [{ op = "wait_for_completion", completion = "c" }] }]
""")
    assert res.status == "deadlocked"
    assert [(f.kind, f.contexts) for f in res.findings] == [("deadlock", ["B"])]


def test_engine_ipi_from_cpu0_is_delivered_on_cpu1() -> None:
    """raise_irq(irq, cpu=1) from CPU 0 runs the handler on CPU 1, as soon as CPU 1 runs with IF on."""
    res, rec = _run("""
[[task]]
name = "t0"
cpu = 0
ops = [{ op = "raise_irq", irq = "ipi", cpu = 1 }, { op = "work", steps = 1 }]

[[task]]
name = "t1"
cpu = 1
ops = [{ op = "work", steps = 3 }]

[[irq]]
name = "ipi"
cpu = 1
max = 0
ops = [{ op = "work", steps = 1 }]
""")
    assert res.status == "done" and res.findings == []
    assert _ctx(rec, "cpu", "context", "what") == [
        (0, "t0", "start"), (0, "t0", "end"), (1, "t1", "start"), (1, "ipi#1", "irq_enter"),
        (1, "ipi#1", "irq_exit"), (1, "ipi#1", "end"), (1, "t1", "end")]


def test_engine_ipi_handler_runs_on_target_cpu() -> None:
    """The IPI handler sees smp_processor_id() == 1 and in_irq() true."""
    seen: list[tuple[int, bool]] = []

    def sender(k: Any, pages: Any) -> None:
        k.raise_irq("ipi", 1)
        k.save_flags()

    def handler(k: Any, pages: Any) -> None:
        seen.append((k.smp_processor_id(), k.in_irq()))

    sc = _python([ContextSpec("task", "t0", 0, fn=sender), ContextSpec("irq", "ipi", 1, fn=handler, max=0)], cpus=2)
    res, _ = run_once(sc, sc.config(), DefaultStrategy())
    assert res.status == "done"
    assert seen == [(1, True)]


def test_engine_exit_op_ends_task() -> None:
    """The exit op ends the task at once: later ops never run and the next task gets the CPU."""
    res, rec = _run(UP + """
[pages]
A = { fill = "A" }

[[task]]
name = "quitter"
ops = [
  { op = "kmap_atomic", page = "A", type = "KM_USER0", as = "a" },
  { op = "kunmap_atomic", addr = "a", type = "KM_USER0" },
  { op = "exit" },
  { op = "store", addr = "a", data = "never" },
]

[[task]]
name = "next"
ops = [{ op = "work", steps = 1 }]

[[expect]]
page = "A"
data = "AAAAA"
""")
    assert res.status == "done" and res.findings == []
    assert res.steps == 4
    assert _ctx(rec, "context", "what", "detail") == [
        ("quitter", "start", ""), ("quitter", "end", "exit"), ("next", "start", ""), ("next", "end", "exit")]


def test_engine_exit_in_interrupt_is_kernel_bug() -> None:
    """do_exit from an interrupt handler is the 'Aiee, killing interrupt handler!' BUG."""
    res, _ = _run(UP + """
[[task]]
name = "t"
ops = [{ op = "raise_irq", irq = "hw" }, { op = "work", steps = 1 }]

[[irq]]
name = "hw"
max = 0
ops = [{ op = "exit" }]
""")
    assert res.status == "stopped"
    assert [(f.kind, f.message) for f in res.findings] == [
        ("kernel-bug", "hw#1 on CPU 0: kernel BUG in do_exit: Aiee, killing interrupt handler!")]


def test_engine_deadlock_on_uncompleted_completion() -> None:
    """A task waiting for a completion nobody completes: run deadlocked, one deadlock finding."""
    res, _ = _run(UP + """
[[task]]
name = "w"
ops = [{ op = "wait_for_completion", completion = "never" }]
""")
    assert res.status == "deadlocked"
    assert [f.to_dict() for f in res.findings] == [{
        "kind": "deadlock",
        "message": "nothing can run and 1 context waits: w sleeps on 'completion:never' since step 1",
        "cpu": None, "contexts": ["w"], "slot": None, "pages": [], "steps": [1, 1]}]


@pytest.mark.parametrize("op", [
    '{ op = "cli" }', '{ op = "sti" }', '{ op = "save_flags", as = "f" }', '{ op = "local_irq_save", as = "f" }',
    '{ op = "local_bh_disable" }', '{ op = "schedule" }', '{ op = "wake", queue = "q" }',
    '{ op = "complete", completion = "c" }', '{ op = "flush_tlb_all" }', '{ op = "work" }',
    '{ op = "raise_softirq", softirq = "s" }', '{ op = "kmap_atomic", page = "low", type = "KM_USER0" }',
    '{ op = "page_address", page = "low", as = "v" }',
])
def test_engine_each_op_is_one_step(op: str) -> None:
    """Each TOML operation (other than work/repeat) is exactly one step, i.e. one scheduling point."""
    res, _ = _run(UP + f"""
[pages]
low = {{ zone = "normal" }}

[[task]]
name = "t"
ops = [{op}]

[[softirq]]
name = "s"
ops = []
""")
    # A lone local_bh_disable leaves bottom halves off at exit: 2.4.22's do_exit panics
    # ("Aiee, killing interrupt handler!", kernel/exit.c) -- that, and only that, is reported.
    assert [f.kind for f in res.findings] == (["kernel-bug"] if "local_bh_disable" in op else [])
    assert res.steps == 1


def test_engine_complete_wakes_one_waiter_fifo() -> None:
    """One complete() wakes the first of two waiters only; the second is left deadlocked."""
    res, rec = _run(UP + """
[[task]]
name = "W1"
ops = [{ op = "wait_for_completion", completion = "c" }]

[[task]]
name = "W2"
ops = [{ op = "wait_for_completion", completion = "c" }]

[[task]]
name = "C"
ops = [{ op = "complete", completion = "c" }]
""")
    assert res.status == "deadlocked"
    assert [(f.kind, f.contexts) for f in res.findings] == [("deadlock", ["W2"])]
    assert [r["context"] for r in rec.records if r["kind"] == "context" and r["what"] == "wake"] == ["W1"]


def test_engine_wake_up_wakes_every_sleeper() -> None:
    """One wake_up makes every sleeper on the queue runnable: both sleepers finish."""
    res, rec = _run(UP + """
[[task]]
name = "S1"
ops = [{ op = "sleep", queue = "q" }]

[[task]]
name = "S2"
ops = [{ op = "sleep", queue = "q" }]

[[task]]
name = "W"
ops = [{ op = "wake", queue = "q" }]
""")
    assert res.status == "done" and res.findings == []
    assert [(r["context"], r["detail"]) for r in rec.records if r["kind"] == "context" and r["what"] == "wake"] == [
        ("S1", "q"), ("S2", "q")]


@pytest.mark.parametrize("op", ['{ op = "sleep", queue = "q" }', '{ op = "wait_for_completion", completion = "c" }'])
def test_engine_sleeping_in_interrupt_is_kernel_bug(op: str) -> None:
    """Sleeping from a hard-IRQ handler goes through schedule(): the 'Scheduling in interrupt' BUG."""
    res, _ = _run(UP + f"""
[[task]]
name = "t"
ops = [{{ op = "raise_irq", irq = "h" }}, {{ op = "work", steps = 1 }}]

[[irq]]
name = "h"
max = 0
ops = [{op}]
""")
    assert res.status == "stopped"
    assert [(f.kind, f.message) for f in res.findings] == [
        ("kernel-bug", "h#1 on CPU 0: kernel BUG in schedule: Scheduling in interrupt on CPU 0")]


def test_engine_idle_cpu_takes_interrupt_after_task_exits_with_if_off() -> None:
    """An IRQ raised by a task that then exits with interrupts disabled is still delivered on the idle CPU."""
    res, rec = _run(UP + """
[[task]]
name = "t"
ops = [{ op = "cli" }, { op = "raise_irq", irq = "eth0" }]

[[irq]]
name = "eth0"
max = 0
ops = [{ op = "work", steps = 1 }]
""")
    assert res.status == "done" and res.steps == 3
    assert _ctx(rec, "context", "what") == [
        ("t", "start"), ("t", "end"), ("eth0#1", "irq_enter"), ("eth0#1", "irq_exit"), ("eth0#1", "end")]
