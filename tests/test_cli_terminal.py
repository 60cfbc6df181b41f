"""The terminal never lies: help examples that parse, completion scripts, tables that fit, ASCII output,
closed pipes, plurals."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from highmem.cli import SUBCOMMANDS, _build_parser
from highmem.scenarios import builtin_names
from highmem.sim.findings import FINDING_KINDS
from highmem.words import plural

HIGHMEM = [sys.executable, "-m", "highmem"]


def _run(args: list[str], env: dict[str, str] | None = None, **kw: object) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ)
    full.pop("COLUMNS", None)
    full.update(env or {})
    return subprocess.run(HIGHMEM + args, capture_output=True, text=True, env=full, timeout=600, **kw)  # type: ignore


def _examples(cmd: str) -> list[list[str]]:
    """The highmem command lines of a subcommand's --help examples (pipes and && split off)."""
    text = _build_parser()._subparsers._group_actions[0].choices[cmd].format_help()  # type: ignore[union-attr]
    assert "\nexamples:\n" in text, cmd
    out = []
    for line in text.split("\nexamples:\n", 1)[1].splitlines():
        command = re.split(r"\s{2,}", line.strip())[0]
        command = command.removeprefix('eval "$(').removesuffix(')"')
        for part in re.split(r"\s*(?:&&|\||>)\s*", command):
            words = shlex.split(part)
            if words and words[0] == "highmem":
                out.append(words[1:])
    return out


@pytest.mark.parametrize("cmd", list(SUBCOMMANDS))
def test_help_examples_exist_and_parse(cmd: str) -> None:
    """Every subcommand's --help ends with examples, and each example is a valid command line."""
    examples = _examples(cmd)
    assert any(words[0] == cmd for words in examples), cmd
    for words in examples:
        _build_parser().parse_args(words)  # a usage error would exit 2


def _bash_complete(line: str) -> list[str]:
    script = _run(["completion", "bash"]).stdout
    words = line.split(" ")
    prog = (script + "\nCOMP_WORDS=(" + " ".join(shlex.quote(w) for w in words) + ")\n"
            f"COMP_CWORD={len(words) - 1}\n_highmem\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n")
    p = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, timeout=60, cwd="/")
    assert p.returncode == 0, p.stderr
    return sorted(set(p.stdout.split()))


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_completion_bash_completes_commands_options_and_values() -> None:
    """bash: subcommands, a subcommand's options, option values and built-in scenario names."""
    assert _bash_complete("highmem ch") == ["check"]
    assert _bash_complete("highmem check --sch") == ["--schedule", "--scheduler", "--schedules"]
    assert _bash_complete("highmem check --profile linux-2.6") == ["linux-2.6", "linux-2.6.37"]
    assert _bash_complete("highmem check kmap-local") == ["kmap-local-preempt", "kmap-local-wrong-order"]
    assert _bash_complete("highmem completion z") == ["zsh"]


def test_completion_zsh_and_fish_name_every_subcommand_and_option() -> None:
    """zsh and fish scripts name every subcommand and every long option of check."""
    check_opts = sorted(o for a in _build_parser()._subparsers._group_actions[0].choices["check"]._actions  # type: ignore
                        for o in a.option_strings if o.startswith("--"))
    for shell in ("zsh", "fish"):
        text = _run(["completion", shell]).stdout
        for cmd in SUBCOMMANDS:
            assert re.search(rf"\b{cmd}\b", text), (shell, cmd)
        for opt in check_opts:
            assert (opt if shell == "zsh" else f"-l {opt[2:]}") in text, (shell, opt)
    if shutil.which("zsh"):
        p = subprocess.run(["zsh", "-n"], input=_run(["completion", "zsh"]).stdout, text=True, capture_output=True)
        assert p.returncode == 0, p.stderr


def test_completion_unknown_shell_is_one_sentence() -> None:
    """An unknown shell: one sentence, exit 2."""
    p = _run(["completion", "tcsh"])
    assert (p.returncode, p.stdout, p.stderr) == (
        2, "", "highmem: shell 'tcsh' has no completion script: choose bash, zsh or fish\n")


@pytest.fixture(scope="module")
def builtin_run_widths() -> dict[int, str]:
    """`highmem check -q --schedules 4` of every built-in at COLUMNS 80, 100 and 120 (piped)."""
    return {w: _run(["check", "-q", "--schedules", "4"], env={"COLUMNS": str(w)}).stdout for w in (80, 100, 120)}


@pytest.mark.parametrize("width", [80, 100, 120])
def test_tables_fit_and_never_truncate(builtin_run_widths: dict[int, str], width: int) -> None:
    """At 80, 100 and 120 columns no summary line is wider, and every scenario name appears whole.

    (Statistics and finding lines are soft-wrapped: left whole for the terminal to fold, so that
    messages and paths stay one line for grep and copy.)"""
    out = builtin_run_widths[width]
    summary = [line for line in out.splitlines() if "pkmap high-water" not in line]
    assert max(len(line.rstrip()) for line in summary) <= width
    for name in builtin_names():
        assert re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])", out), (width, name)
    assert "…" not in out
    found = set(re.findall(r"\b(" + "|".join(map(re.escape, FINDING_KINDS)) + r")\b", out))
    assert {"slot-in-use", "stale-access", "deadlock"} <= found


def test_piped_output_defaults_to_100_columns(builtin_run_widths: dict[int, str]) -> None:
    """Without COLUMNS, piped output is laid out as at COLUMNS=100."""
    assert _run(["check", "-q", "--schedules", "4"]).stdout == builtin_run_widths[100]


def test_narrow_terminal_stacks_the_summary(builtin_run_widths: dict[int, str]) -> None:
    """At 80 columns the summary is a block per scenario; at 100 it is the table."""
    assert builtin_run_widths[80].startswith("highmem check\nbounce-io\n  linux-2.4 · pct · 4 schedules · ")
    assert builtin_run_widths[100].startswith("highmem check (pct)")


def test_ascii_fallback_when_stdout_cannot_encode(tmp_path: Path) -> None:
    """With an ASCII-only stdout the table uses ASCII boxes and marks, and nothing fails."""
    p = _run(["check", "-q", "--schedules", "2", "exit-holding-kmap"], env={"PYTHONIOENCODING": "ascii"})
    assert p.returncode == 1 and p.stderr == ""
    p.stdout.encode("ascii")
    assert "| exit-holding-kmap | linux-2.4 |" in p.stdout
    assert "ok exit-in-atomic x2" in p.stdout


def test_closed_pipe_keeps_the_exit_status() -> None:
    """When the reader closes the pipe before highmem writes, the findings still give exit 1, quietly."""
    env = dict(os.environ)
    env.pop("COLUMNS", None)
    p = subprocess.Popen(HIGHMEM + ["check", "--schedules", "3", "sleep-holding-kmap"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    assert p.stdout is not None and p.stderr is not None
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=600) == 1
    assert err == ""


def test_plural_agrees_with_the_count() -> None:
    """plural() says 1 entry, 2 entries, 1 context waits, 2 contexts wait, 0 choices."""
    assert [plural(1, "entry"), plural(2, "entry"), plural(0, "choice"), plural(1, "choice"),
            plural(1, "context waits"), plural(2, "context waits"), plural(3, "schedule")] == [
        "1 entry", "2 entries", "0 choices", "1 choice", "1 context waits", "2 contexts wait", "3 schedules"]


def test_check_output_uses_singular_for_one() -> None:
    """A one-choice shrunk schedule says 'shrunk from 1 choice', never '1 choices'."""
    p = _run(["check", "--schedules", "20", "km-irq-collision-2005"])
    assert "1 choices" not in p.stdout and "1 entries" not in p.stdout and "1 schedules" not in p.stdout
    assert "(shrunk from 1 choice)" in p.stdout
