"""Scenario, context, page and device names: one character set and length, checked at load time."""

from __future__ import annotations

from pathlib import Path

import pytest

from highmem.cli import main
from highmem.errors import HighmemError
from highmem.report.terminal import escape_controls
from highmem.scenarios import load_toml_text
from highmem.scenarios.names import MAX_NAME, check_name, file_stem, inside
from highmem.sim.schedule import save_schedule

TASK = '[[task]]\nname = "{name}"\nops = [{{ op = "work" }}]\n'


@pytest.mark.parametrize("name", ["../../x", "/abs/x", "e#1", "a/b", "[red]x[/]", "a b", "1st", "", "x" * 65,
                                  "é"])
def test_names_scenario_name_refused(name: str) -> None:
    """A scenario name outside the character set or too long is refused naming the rule."""
    with pytest.raises(HighmemError, match=r"<s>:2: \[scenario\] name .*(not a plain name|at most 64)"):
        load_toml_text(f'[scenario]\nname = "{name}"\n' + TASK.format(name="t"), "<s>")


def test_names_control_character_refused() -> None:
    """A NUL or escape in a name is refused, shown escaped in the message."""
    with pytest.raises(HighmemError) as e:
        load_toml_text('[scenario]\nname = "a\\u001b[2Jb"\n' + TASK.format(name="t"), "<s>")
    assert str(e.value) == ("<s>:2: [scenario] name 'a\\x1b[2Jb' is not a plain name: use a letter or _ first, "
                            "then letters, digits, _, . or -")


@pytest.mark.parametrize("name", ["CALL_FUNCTION_VECTOR", "init"])
def test_names_reserved_context_name_refused(name: str) -> None:
    """A context named like one of the engine's own contexts is refused."""
    text = TASK.format(name="t") + f'[[irq]]\nname = "{name}"\nops = [{{ op = "work" }}]\n'
    with pytest.raises(HighmemError, match=f"<s>:4: \\[\\[irq\\]\\] name '{name}' is reserved"):
        load_toml_text(text, "<s>")


def test_names_handler_instance_name_refused() -> None:
    """A task named like a handler instance (e#1) is refused."""
    with pytest.raises(HighmemError, match=r"<s>:1: \[\[task\]\] name 'e#1' is not a plain name"):
        load_toml_text(TASK.format(name="e#1"), "<s>")


def test_names_page_and_queue_names_checked() -> None:
    """Pages and queue names follow the same rule."""
    with pytest.raises(HighmemError, match=r"page name 'a/b' is not a plain name"):
        load_toml_text('[pages]\n"a/b" = "highmem"\n' + TASK.format(name="t"), "<s>")
    text = '[[task]]\nname = "t"\nops = [{ op = "wake", queue = "../q" }]\n'
    with pytest.raises(HighmemError, match=r"<s>:3: wake queue '../q' is not a plain name"):
        load_toml_text(text, "<s>")


def test_names_longest_accepted() -> None:
    """A name of exactly MAX_NAME characters loads."""
    sc = load_toml_text(f'[scenario]\nname = "{"n" * MAX_NAME}"\n' + TASK.format(name="t" * MAX_NAME), "<s>")
    assert sc.name == "n" * MAX_NAME


def test_names_file_stem_and_inside(tmp_path: Path) -> None:
    """file_stem joins valid names; inside refuses a name that would leave the directory."""
    assert file_stem("irq-uses-user-slot", "stale-access") == "irq-uses-user-slot.stale-access"
    with pytest.raises(HighmemError):
        file_stem("..", "x")
    for bad in ("../x", "/etc/passwd", "..", "a\0b"):
        with pytest.raises(HighmemError, match="would leave directory"):
            inside(tmp_path, bad)
    assert inside(tmp_path, "a.json") == tmp_path / "a.json"
    with pytest.raises(HighmemError, match="is not a plain name"):
        check_name("x", "a\nb")


def test_names_terminal_escapes() -> None:
    """Control characters, surrogate-escaped bytes and bidi overrides are shown as escapes."""
    assert escape_controls("a\x1b[31mb\x07\n\u202e\udcff") == "a\\x1b[31mb\\x07\\n\\u202e\\xff"
    assert escape_controls("l1\nl2\x00", keep_newlines=True) == "l1\nl2\\x00"


def test_names_error_path_escaped_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A path with an escape sequence is printed escaped in the one-sentence error."""
    p = tmp_path / "a\x1b[2Jb.json"
    save_schedule(p, {"scenario": "x.toml", "digest": "sha256:0", "profile": "linux-2.4", "config": [],
                      "finding": {"kind": "stale-access", "message": "m"}, "steps": 1, "choices": []})
    assert main(["check", "--replay", str(p)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "a\\x1b[2Jb.json" in err and err.count("\n") == 1
