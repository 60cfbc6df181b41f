"""Python scenarios: whatever the user's code does, the explorer survives and reports a finding.

Each case writes a Python scenario file to a temporary directory and runs ``highmem check`` on
it as a separate process, the way a user would: the exit status is 1 (findings), the finding
kind is reported, the user's function appears in the stack the finding keeps (printed after
the finding, and as ``stack`` in ``--json``), and stderr carries no traceback of highmem.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCENARIOS = '''\
from highmem.scenarios import ContextSpec, Scenario


def user_raises(k, pages):
    k.load(0xC0000000, 1)               # a lowmem address: one step
    raise KeyError("no such page")


def user_spins(k, pages):
    n = 0
    while True:                         # never reaches a kernel primitive
        n += 1


def user_loops_in_kernel(k, pages):
    while True:
        k.load(0xC0000000, 1)           # every iteration is a step


def user_recurses(k, pages, depth=0):
    return user_recurses(k, pages, depth + 1)


def user_recurses_in_kernel(k, pages, depth=0):
    k.load(0xC0000000, 1)
    return user_recurses_in_kernel(k, pages, depth + 1)


def handler_raises(k, pages):
    raise ValueError("bad packet")


def quiet_task(k, pages):
    for _ in range(4):
        k.load(0xC0000000, 1)


def user_exits(k, pages):
    import sys
    sys.exit(7)


def raising():
    return Scenario(name="py-raises", contexts=[ContextSpec("task", "t", 0, fn=user_raises)])


def spinning():
    return Scenario(name="py-spins", max_steps=1000, contexts=[ContextSpec("task", "t", 0, fn=user_spins)])


def looping():
    return Scenario(name="py-loops", max_steps=1000,
                    contexts=[ContextSpec("task", "t", 0, fn=user_loops_in_kernel)])


def recursing():
    return Scenario(name="py-recurses", contexts=[ContextSpec("task", "t", 0, fn=user_recurses)])


def recursing_in_kernel():
    return Scenario(name="py-recurses-k", contexts=[ContextSpec("task", "t", 0, fn=user_recurses_in_kernel)])


def in_handler():
    return Scenario(name="py-handler", contexts=[ContextSpec("task", "t", 0, fn=quiet_task),
                                                 ContextSpec("irq", "eth0", 0, fn=handler_raises)])


def exiting():
    return Scenario(name="py-exits", contexts=[ContextSpec("task", "t", 0, fn=user_exits)])
'''


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("py-scenarios") / "user_code.py"
    p.write_text(SCENARIOS)
    return p


def highmem(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "highmem", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NO_COLOR": "1"})


CASES = [
    # (function, finding kind, user function in the stack, message fragment)
    ("raising", "python-exception", "user_raises", "t raised KeyError: 'no such page'"),
    ("spinning", "step-budget", "user_spins", "t ran 100000 lines of Python without finishing"),
    ("looping", "step-budget", "user_loops_in_kernel", "t did not finish within the step budget of 1000 steps"),
    ("recursing", "python-exception", "user_recurses", "t raised RecursionError: maximum recursion depth exceeded"),
    ("recursing_in_kernel", "python-exception", "user_recurses_in_kernel", "t raised RecursionError"),
    ("in_handler", "python-exception", "handler_raises", "eth0#1 raised ValueError: bad packet"),
]


@pytest.mark.parametrize(("func", "kind", "user_fn", "message"), CASES, ids=[c[0] for c in CASES])
def test_python_scenario_failure_is_a_finding(scenario_file: Path, func: str, kind: str, user_fn: str,
                                              message: str) -> None:
    """An exception, an endless loop (with or without kernel calls) or a deep recursion in user code:
    exit 1, the finding, the user's function in its stack, nothing of highmem's on stderr."""
    p = highmem("check", f"{scenario_file}:{func}", "--schedules", "2")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "Traceback" not in p.stderr and p.stderr == "", p.stderr
    assert f": {kind} (first in schedule 0, in 2 of 2)" in p.stdout, p.stdout
    assert message in p.stdout
    # The stack printed after the finding runs into the user's function, in the user's file.
    stack = p.stdout[p.stdout.index("Traceback (most recent call last):"):]
    assert f'File "{scenario_file}"' in stack and f"in {user_fn}" in stack, stack


@pytest.mark.parametrize(("func", "kind", "user_fn", "message"), CASES[:4], ids=[c[0] for c in CASES[:4]])
def test_python_scenario_failure_json_keeps_the_stack(scenario_file: Path, func: str, kind: str, user_fn: str,
                                                      message: str) -> None:
    """``--json``: the finding carries the kind, the message and the user's stack."""
    p = highmem("check", f"{scenario_file}:{func}", "--schedules", "1", "--json")
    assert p.returncode == 1 and p.stderr == "", p.stderr
    doc = json.loads(p.stdout)
    (f,) = doc["findings"]
    assert f["kind"] == kind and message in f["message"]
    assert f["contexts"] == [message.split()[0]]
    assert f"in {user_fn}" in f["stack"] and str(scenario_file) in f["stack"]


def test_python_scenario_sys_exit_is_a_finding(scenario_file: Path) -> None:
    """User code calling sys.exit(7) is a python-exception finding (exit 1), not highmem's exit status."""
    p = highmem("check", f"{scenario_file}:exiting", "--schedules", "1")
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert "python-exception" in p.stdout and "SystemExit" in p.stdout
