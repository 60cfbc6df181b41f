"""The README's promises: its tour runs and prints what it says; its commands are the CI's."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_tour_runs_and_prints_the_slot() -> None:
    """The first ```python block of README.md runs as is and prints KM_USER0's slot on CPU 1."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```python\n(.*?)```", text, re.S)
    assert block is not None
    code = block.group(1)
    assert 10 <= len(code.strip().splitlines()) <= 20
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    assert out.getvalue() == "KM_USER0 of CPU 1 is fixmap 20 at 0xfffea000\n"


def test_readme_quickstart_is_two_commands_and_ci_runs_the_test_one() -> None:
    """Quickstart has exactly two shell commands; .ci/run runs the second one verbatim."""
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)\n```", quick, re.S)
    assert len(commands) == 2
    assert commands[0].endswith("highmem check")
    assert commands[1] in (ROOT / ".ci" / "run").read_text()
