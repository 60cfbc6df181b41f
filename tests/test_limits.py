"""Documented limits, checked when an input loads: each error names the value and the limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from highmem.cli import main
from highmem.errors import HighmemError
from highmem.scenarios import load_toml, load_toml_text
from highmem.scenarios.limits import MAX_MOVED, MAX_NESTING, MAX_SCENARIO_BYTES
from highmem.sim.schedule import MAX_SCHEDULE_BYTES, load_schedule

PAGE_TASK = ('[pages]\nA = "highmem"\n[[task]]\nname = "t"\n'
             'ops = [{{ op = "kmap_atomic", page = "A", type = "KM_USER0" }}{ops}]\n')


def _nested(depth: int) -> str:
    s = '{ op = "work" }'
    for _ in range(depth):
        s = '{ op = "repeat", count = 1, ops = [' + s + "] }"
    return s


def test_limits_nesting() -> None:
    """repeat nested MAX_NESTING deep loads; one more level is refused naming both numbers."""
    load_toml_text(f'[[task]]\nname = "t"\nops = [{_nested(MAX_NESTING)}]\n', "<s>")
    with pytest.raises(HighmemError, match=f"^<s>:3: repeat is nested {MAX_NESTING + 1} deep: the limit is "
                                           f"{MAX_NESTING} levels$"):
        load_toml_text(f'[[task]]\nname = "t"\nops = [{_nested(MAX_NESTING + 1)}]\n', "<s>")


def test_limits_nesting_too_deep_to_parse() -> None:
    """Nesting deep enough to exhaust the TOML reader is one sentence, not a RecursionError."""
    with pytest.raises(HighmemError, match="nested too deeply to read"):
        load_toml_text(f'[[task]]\nname = "t"\nops = [{_nested(300)}]\n', "<s>")


def test_limits_moved_bytes_stores() -> None:
    """Five stores of 16 MiB (80 MiB) in one task exceed the bytes a schedule may move."""
    ops = "".join(', { op = "store", addr = "A", data = "x", repeat = 16777216 }' for _ in range(5))
    with pytest.raises(HighmemError) as e:
        load_toml_text(PAGE_TASK.format(ops=ops), "<s>")
    assert str(e.value) == (f"<s>:3: the scenario moves at least 83886080 bytes per schedule (loads, stores and "
                            f"copies, repeats counted; task t alone 83886080 in 1 run(s)), more than the limit of "
                            f"{MAX_MOVED}")


def test_limits_moved_bytes_copy_times_count() -> None:
    """A 16 MiB copy repeated 199,990 times is refused at load time (it would run for minutes)."""
    ops = ', { op = "repeat", count = 199990, ops = [{ op = "copy", dst = "A", src = "A", size = 16777216 }] }'
    with pytest.raises(HighmemError, match=r"moves at least 3355275427840 bytes per schedule"):
        load_toml_text(PAGE_TASK.format(ops=ops), "<s>")


def test_limits_moved_counts_interrupt_arrivals() -> None:
    """An interrupt's bytes count once per possible arrival (max plus raise operations)."""
    text = ('[pages]\nA = "highmem"\n[[task]]\nname = "t"\nops = [{ op = "repeat", count = 3, ops = '
            '[{ op = "raise_irq", irq = "e" }] }]\n[[irq]]\nname = "e"\nmax = 2\nops = [{ op = "kmap_atomic", '
            'page = "A", type = "KM_BH_IRQ" }, { op = "store", addr = "A", data = "y", repeat = 14000000 }]\n')
    with pytest.raises(HighmemError, match=r"irq e alone 70000000 in 5 run\(s\)"):
        load_toml_text(text, "<s>")


def test_limits_scenario_file_size(tmp_path: Path) -> None:
    """A scenario file beyond MAX_SCENARIO_BYTES is refused before it is parsed."""
    p = tmp_path / "big.toml"
    p.write_bytes(b"#" * (MAX_SCENARIO_BYTES + 1))
    with pytest.raises(HighmemError, match=f"is larger than the limit of {MAX_SCENARIO_BYTES} bytes"):
        load_toml(p)


def test_limits_schedule_file_size_and_nesting(tmp_path: Path) -> None:
    """A huge or deeply nested schedule file is one sentence."""
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(MAX_SCHEDULE_BYTES + 1)
    with pytest.raises(HighmemError, match=f"is larger than the limit of {MAX_SCHEDULE_BYTES} bytes"):
        load_schedule(big)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(HighmemError, match="is not a JSON schedule: it is nested too deeply"):
        load_schedule(deep)


def test_limits_report_dev_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """report /dev/zero reads at most the documented size, then one sentence, exit 2."""
    assert main(["report", "/dev/zero", "-o", str(tmp_path / "z.html")]) == 2
    assert capsys.readouterr().err == ("highmem: trace file /dev/zero is larger than the limit of 67108864 bytes "
                                       "a report reads\n")


def test_limits_trace_huge_cpu_is_not_allocated(tmp_path: Path) -> None:
    """A 200-byte trace whose record claims CPU 1,000,000,000 reports without allocating per CPU."""
    t = tmp_path / "t.jsonl"
    header = {"schema": "highmem-trace", "version": 2, "cpus": 2, "events": 1, "steps": 1, "scenario": "x"}
    t.write_text(json.dumps(header) + "\n" + json.dumps({"step": 1, "kind": "set_pte", "cpu": 10**9}) + "\n",
                 encoding="utf-8")
    assert main(["report", str(t), "-o", str(tmp_path / "t.html")]) == 0
    assert (tmp_path / "t.html").stat().st_size < 2_000_000


def test_limits_repeat_body_checked_before_use() -> None:
    """A repeat body with steps = "3" is a sentence about the body, not a TypeError."""
    text = '[[task]]\nname = "t"\nops = [{ op = "repeat", count = 2, ops = [{ op = "work", steps = "3" }] }]\n'
    with pytest.raises(HighmemError, match=r"^<s>:3: work steps must be an integer, not '3'$"):
        load_toml_text(text, "<s>")


def test_limits_binding_inside_count_zero_does_not_escape() -> None:
    """A variable bound only inside a repeat that runs 0 times is unbound after it."""
    text = ('[[task]]\nname = "t"\nops = [{ op = "repeat", count = 0, ops = [{ op = "save_flags", as = "f" }] }, '
            '{ op = "restore_flags", flags = "f" }]\n')
    with pytest.raises(HighmemError, match="restore_flags uses flags 'f' before save_flags or local_irq_save binds"):
        load_toml_text(text, "<s>")
