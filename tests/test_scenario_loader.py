"""The TOML scenario loader: every bad input is one HighmemError naming the file and, where known, the line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from highmem.cli import main
from highmem.errors import HighmemError
from highmem.scenarios import load_toml_text
from highmem.sim.explore import run_once
from highmem.sim.strategy import DefaultStrategy

GOOD = """\
[scenario]
name = "good"

[pages]
A = { fill = "A" }

[[task]]
name = "t"
cpu = 0
ops = [
  { op = "kmap_atomic", page = "A", type = "KM_USER0", as = "a" },
  { op = "load", addr = "a", size = 1 },
  { op = "kunmap_atomic", addr = "a", type = "KM_USER0" },
]

[[irq]]
name = "eth0"
cpu = 0
ops = [{ op = "work", steps = 1 }]
"""


def _err(text: str) -> str:
    with pytest.raises(HighmemError) as e:
        load_toml_text(text, "t.toml")
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def _bad(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


def test_loader_good_scenario_loads() -> None:
    """The base scenario of these tests is valid: one task with three ops, one irq, one page."""
    sc = load_toml_text(GOOD, "t.toml")
    assert sc.name == "good" and [c.name for c in sc.contexts] == ["t", "eth0"]
    assert sc.digest.startswith("sha256:")


def test_loader_toml_syntax_error_line() -> None:
    """A TOML syntax error reports tomllib's line: 'file:LINE: TOML syntax error: ...'."""
    msg = _err(_bad('name = "good"', 'name = '))
    assert msg.startswith("t.toml:2: TOML syntax error: ")


def test_loader_unknown_table_line() -> None:
    """An unknown [table] names the table, the allowed ones, and the header's line."""
    msg = _err(GOOD + '\n[scenery]\nx = 1\n')
    assert msg.startswith("t.toml:21: unknown table 'scenery': a scenario has ")
    allowed = msg.split("a scenario has ", 1)[1].split(", ")
    assert allowed == sorted(allowed)
    assert {"expect", "irq", "machine", "pages", "scenario", "softirq", "task"} <= set(allowed)


def test_loader_unknown_top_level_key_line() -> None:
    """An unknown bare key before any table is reported with its line."""
    msg = _err('nmae = "x"\n' + GOOD)
    assert msg.startswith("t.toml:1: unknown table 'nmae'")


def test_loader_unknown_op_line() -> None:
    """An unknown op is reported at the line of that op, listing the known operations."""
    msg = _err(_bad('{ op = "load", addr = "a", size = 1 }', '{ op = "lod", addr = "a", size = 1 }'))
    assert msg.startswith("t.toml:12: unknown operation 'lod': operations are ")
    assert "kmap_atomic" in msg and "wait_for_completion" in msg


def test_loader_unknown_field_in_op_line() -> None:
    """An unknown field of an op names the op, the field and the allowed fields."""
    msg = _err(_bad('{ op = "load", addr = "a", size = 1 }', '{ op = "load", addr = "a", sise = 1 }'))
    assert msg == "t.toml:12: operation load has unknown field 'sise': it takes addr, expect, offset, size"


def test_loader_wrong_type_line() -> None:
    """A string where an integer belongs (size = "4") is a type error at the op's line."""
    msg = _err(_bad('{ op = "load", addr = "a", size = 1 }', '{ op = "load", addr = "a", size = "4" }'))
    assert msg == "t.toml:12: load size must be an integer, not '4'"


def test_loader_undefined_page_line() -> None:
    """A kmap_atomic of a page [pages] does not define is reported at its line."""
    msg = _err(_bad('page = "A"', 'page = "B"'))
    assert msg == "t.toml:11: kmap_atomic names page 'B', which [pages] does not define"


def test_loader_quoted_page_name_line() -> None:
    """A page whose TOML key is quoted ("a b") and not a plain name is refused at its line."""
    msg = _err(_bad('A = { fill = "A" }', 'A = { fill = "A" }\n"a b" = { fill = "B" }'))
    assert msg == ("t.toml:6: page name 'a b' is not a plain name: use a letter or _ first, then letters, "
                   "digits, _, . or -")


def test_loader_km_type_not_in_enum() -> None:
    """KM_IRQ0 (a 2.6 type) does not exist in 2.4.22's km_type enum; the message lists the enum in enum order."""
    msg = _err(_bad('type = "KM_USER0", as', 'type = "KM_IRQ0", as'))
    assert msg == ("t.toml:11: km type 'KM_IRQ0' does not exist in 2.4.22's enum km_type: its members are "
                   "KM_BOUNCE_READ, KM_SKB_SUNRPC_DATA, KM_SKB_DATA_SOFTIRQ, KM_USER0, KM_USER1, KM_BH_IRQ, "
                   "KM_SOFTIRQ0, KM_SOFTIRQ1")


def test_loader_book_km_types_lack_softirq0() -> None:
    """With the book's six km types, KM_SOFTIRQ0 does not exist: the message names km_types = "book" as the
    cause, lists the six in enum order and keeps the file:line prefix."""
    msg = _err('[machine]\nkm_types = "book"\n' + GOOD.replace('"KM_USER0", as', '"KM_SOFTIRQ0", as'))
    assert msg == ("t.toml:13: km type 'KM_SOFTIRQ0' does not exist in the book's six km types (km_types = \"book\"): "
                   "its members are KM_BOUNCE_READ, KM_SKB_SUNRPC_DATA, KM_SKB_DATA_SOFTIRQ, KM_USER0, KM_USER1, "
                   "KM_BH_IRQ; km_types = \"2.4.22\" has it")


def test_loader_km_type_on_2_6_names_that_enum() -> None:
    """On linux-2.6 the message names 2.6.32's enum, not the book's list."""
    msg = _err('[machine]\nprofile = "linux-2.6"\n' + GOOD.replace('"KM_USER0", as', '"KM_FOO", as'))
    assert msg.startswith("t.toml:13: km type 'KM_FOO' does not exist in 2.6.32's enum km_type: its members are "
                          "KM_BOUNCE_READ, KM_SKB_SUNRPC_DATA, ")


def test_loader_book_km_types_on_2_6_drop_the_setting() -> None:
    """km_types = "book" on linux-2.6 suggests no --km-types option (a scenario has none)."""
    msg = _err('[machine]\nprofile = "linux-2.6"\nkm_types = "book"\n' + GOOD)
    assert msg.endswith("km type list 'book' applies only to profile linux-2.4: linux-2.6 has its own km_type "
                        "enum; drop the setting")


def test_loader_cpu_does_not_exist() -> None:
    """A task on CPU 2 of a 2-CPU machine is refused at its [[task]] line."""
    msg = _err(_bad("cpu = 0\nops = [\n", "cpu = 2\nops = [\n"))
    assert msg == "t.toml:7: task t is on CPU 2, which does not exist: the machine has CPUs 0 to 1"


def test_loader_variable_before_bound() -> None:
    """Using an address variable before any op binds it is refused at that op's line."""
    msg = _err(_bad('{ op = "load", addr = "a", size = 1 }', '{ op = "load", addr = "b", size = 1 }'))
    assert msg == "t.toml:12: load uses addr 'b' before any operation of this context binds it (with as = ...)"


def test_loader_raise_undeclared_irq() -> None:
    """raise_irq of an interrupt no [[irq]] declares is refused at its line."""
    msg = _err(_bad('{ op = "load", addr = "a", size = 1 },', '{ op = "raise_irq", irq = "eth9" },'))
    assert msg == "t.toml:12: raise_irq names interrupt 'eth9', which no [[irq]] declares"


def test_loader_raise_irq_on_missing_cpu() -> None:
    """raise_irq to a CPU the machine does not have is refused at its line."""
    msg = _err(_bad('{ op = "load", addr = "a", size = 1 },', '{ op = "raise_irq", irq = "eth0", cpu = 7 },'))
    assert msg == "t.toml:12: raise_irq targets CPU 7, which does not exist"


def test_loader_expect_outside_page() -> None:
    """An [[expect]] whose bytes run past the end of the page is refused at its header line."""
    msg = _err(GOOD + '\n[[expect]]\npage = "A"\noffset = 4090\ndata = "0123456789"\n')
    assert msg == "t.toml:21: [[expect]] offset 4090 with 10 bytes falls outside the page"


def test_loader_op_line_inside_repeat() -> None:
    """Ops nested in a repeat are located on their own lines too."""
    msg = _err(_bad('{ op = "load", addr = "a", size = 1 },',
                    '{ op = "repeat", count = 2, ops = [\n    { op = "work" },\n    { op = "nap" },\n  ] },'))
    assert msg.startswith("t.toml:14: unknown operation 'nap'")


def test_loader_expect_kind_bad_type() -> None:
    """[scenario] expect must be "clean" or a list of kinds."""
    msg = _err(_bad('name = "good"', 'name = "good"\nexpect = 3'))
    assert msg == 't.toml:3: [scenario] expect must be "clean" or a list of kinds'


def test_loader_expect_unknown_kind() -> None:
    """A misspelt finding kind in [scenario] expect is refused at its line (it could never match)."""
    msg = _err(_bad('name = "good"', 'name = "good"\nexpect = ["stale-acess"]'))
    assert msg.startswith("t.toml:3: ") and "stale-acess" in msg


def test_loader_no_task() -> None:
    """A scenario without any [[task]] is refused (no line: nothing to point at)."""
    text = GOOD[: GOOD.index("[[task]]")] + GOOD[GOOD.index("[[irq]]"):]
    assert _err(text) == "t.toml: a scenario needs at least one [[task]]"


def test_loader_messages_start_with_file_name() -> None:
    """Every loader error starts with the file name given, followed by ':'."""
    for text in (GOOD + "[bogus]\n", _bad('page = "A"', 'page = "Z"'), "[scenario]\nname = 3\n"):
        with pytest.raises(HighmemError) as e:
            load_toml_text(text, "dir/my.toml")
        assert re.match(r"^dir/my\.toml(:\d+)?: ", str(e.value))


def test_loader_step_budget_of_huge_repeat() -> None:
    """A TOML task that must take more steps than max_steps is refused at load time, naming the budget."""
    with pytest.raises(HighmemError) as e:
        load_toml_text("""
[scenario]
max_steps = 100

[[task]]
name = "t"
ops = [{ op = "repeat", count = 1000, ops = [{ op = "work", steps = 1 }] }]
""", "t.toml")
    assert str(e.value) == ("t.toml:5: task t takes at least 1000 steps, more than the step budget of 100 "
                            "([scenario] max_steps): shorten its repeats")


def test_loader_step_budget_at_run_time() -> None:
    """A run that still exceeds max_steps (waiting loops the loader cannot count) is a HighmemError from run_once."""
    sc = load_toml_text("""
[scenario]
max_steps = 3

[[task]]
name = "t"
ops = [{ op = "work", steps = 2 }, { op = "wake", queue = "q" }]

[[task]]
name = "u"
ops = [{ op = "work", steps = 2 }]
""", "t.toml")
    with pytest.raises(HighmemError) as e:
        run_once(sc, sc.config(), DefaultStrategy())
    assert str(e.value) == ("scenario t (t.toml): a context did not finish within the step budget of 3 steps; "
                            "shorten its loops or raise [scenario] max_steps")


@pytest.mark.parametrize("text", [
    GOOD.replace('name = "good"', 'name = '),
    GOOD.replace('op = "load"', 'op = "lod"'),
    GOOD.replace("cpu = 0\nops = [\n", "cpu = 9\nops = [\n", 1),
])
def test_loader_cli_bad_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    """check of a bad scenario file exits 2 with exactly one 'highmem: FILE:LINE: ...' line and no traceback."""
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["check", str(path)]) == 2
    cap = capsys.readouterr()
    assert cap.out == ""
    assert cap.err.startswith(f"highmem: {path}:") and cap.err.count("\n") == 1
    assert "Traceback" not in cap.err
