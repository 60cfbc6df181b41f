"""Runs the ``console`` blocks of a Markdown file, in order, in one scratch directory per file.

A ```` ```console ```` block holds commands (``$ `` lines, continued by a trailing backslash) each
followed by the output it shows.  A ```` ```toml ```` or ```` ```python ```` block whose preceding
paragraph names a file in backticks (`` `stale.toml` ``) is written to that file first, so later
commands can use it.  ``...`` alone on a line matches any lines; ``...`` within a line matches any
text there.  Every named file is written once before the first command (a page may define its
files at its end), then again where its block stands.  ``<!-- console-setup: CMD -->`` runs
``CMD`` (bash) before the first command; ``<!-- console-skip: REASON -->`` just before a
console block leaves that block unrun (REASON says why, e.g. it needs a dask cluster).

``python tests/doc_console.py --update FILE.md`` rewrites the shown output of every block that has
no ``...`` with what the command prints now (then read the diff: the docs' prose may need it too).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Commands that need a service the test-suite does not start.
SKIP = re.compile(r"--executor dask|--scheduler tcp://")


@dataclass
class Command:
    line: int
    cmd: str
    shown: list[str]


@dataclass
class Block:
    kind: str  # "file", "console" or "setup"
    start: int  # 0-based index of the first content line
    end: int  # index of the closing fence
    name: str = ""
    text: str = ""
    commands: list[Command] = field(default_factory=list)
    skip: str = ""


def parse(text: str) -> list[Block]:
    """The file and console blocks of ``text``, in order."""
    lines = text.split("\n")
    out: list[Block] = []
    i = 0
    while i < len(lines):
        setup = re.match(r"^<!-- console-setup: (.*) -->\s*$", lines[i])
        if setup:
            out.append(Block("setup", i, i, text=setup.group(1)))
        m = re.match(r"^```(\w+)\s*$", lines[i])
        if not m:
            i += 1
            continue
        lang, start = m.group(1), i + 1
        end = start
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        body = lines[start:end]
        if lang == "console":
            b = Block("console", start, end)
            prev = next((x for x in reversed(lines[:i]) if x.strip()), "")
            sk = re.match(r"^<!-- console-skip: (.*) -->\s*$", prev)
            if sk:
                b.skip = sk.group(1)
            j = 0
            while j < len(body):
                if body[j].startswith("$ "):
                    cmd, first = body[j][2:], start + j
                    while cmd.endswith("\\") and j + 1 < len(body):
                        j += 1
                        cmd = cmd[:-1] + "\n" + body[j]
                    shown: list[str] = []
                    j += 1
                    while j < len(body) and not body[j].startswith("$ "):
                        shown.append(body[j])
                        j += 1
                    b.commands.append(Command(first, cmd, shown))
                else:
                    j += 1
            out.append(b)
        elif lang in ("toml", "python"):
            para = "\n".join(lines[max(0, i - 6):i])
            para = para.split("\n\n")[-1] if "\n\n" in para.strip("\n") else para
            names = re.findall(r"`([\w./-]+\.(?:toml|py))`", para)
            if names:
                out.append(Block("file", start, end, name=names[-1], text="\n".join(body) + "\n"))
        i = end + 1
    return out


def matches(shown: list[str], actual: list[str]) -> bool:
    """Whether ``actual`` lines fit the ``shown`` pattern (``...`` elides)."""
    pats = [s.rstrip() for s in shown]
    acts = [a.rstrip() for a in actual]
    while pats and pats[-1] == "":
        pats.pop()
    while acts and acts[-1] == "":
        acts.pop()

    def line_ok(p: str, a: str) -> bool:
        if "..." not in p:
            return p == a
        rx = ".*".join(re.escape(part) for part in p.split("..."))
        return re.fullmatch(rx, a) is not None

    def go(i: int, j: int) -> bool:
        if i == len(pats):
            return j == len(acts)
        if pats[i].strip() == "...":
            return any(go(i + 1, k) for k in range(j, len(acts) + 1))
        return j < len(acts) and line_ok(pats[i], acts[j]) and go(i + 1, j + 1)

    return go(0, 0)


def run(cmd: str, cwd: Path) -> tuple[list[str], int]:
    """The output (stdout then stderr, as a terminal would interleave little) and status of ``cmd``."""
    env = dict(os.environ)
    env.pop("COLUMNS", None)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["HIGHMEM_ROOT"] = str(ROOT)
    p = subprocess.run(["bash", "-c", cmd], cwd=cwd, capture_output=True, text=True, env=env, timeout=900)
    return (p.stdout + p.stderr).split("\n"), p.returncode


def check_file(path: Path, update: bool = False) -> list[str]:
    """Run every console block of ``path``; returns a description of each mismatch."""
    text = path.read_text(encoding="utf-8")
    blocks = parse(text)
    problems: list[str] = []
    replacements: dict[int, tuple[int, list[str]]] = {}
    with tempfile.TemporaryDirectory(prefix="doc-console-") as d:
        cwd = Path(d)
        seen: set[str] = set()
        for b in blocks:
            if b.kind == "file" and b.name not in seen:
                seen.add(b.name)
                (cwd / b.name).parent.mkdir(parents=True, exist_ok=True)
                (cwd / b.name).write_text(b.text, encoding="utf-8")
        for b in blocks:
            if b.kind == "setup":
                run(b.text, cwd)
        status = 0
        for b in blocks:
            if b.kind == "setup" or b.skip:
                continue
            if b.kind == "file":
                (cwd / b.name).parent.mkdir(parents=True, exist_ok=True)
                (cwd / b.name).write_text(b.text, encoding="utf-8")
                continue
            for c in b.commands:
                if SKIP.search(c.cmd):
                    continue
                if c.cmd.strip() == "echo $?":
                    actual = [str(status), ""]
                else:
                    actual, status = run(c.cmd, cwd)
                if not matches(c.shown, actual):
                    problems.append(f"{path.name}:{c.line + 1}: $ {c.cmd}\n--- shown\n" + "\n".join(c.shown)
                                    + "\n--- actual\n" + "\n".join(actual))
                    if update and not any("..." in s for s in c.shown):
                        while actual and actual[-1] == "":
                            actual.pop()
                        replacements[c.line] = (len(c.cmd.split("\n")) + len(c.shown), actual)
    if update and replacements:
        lines = text.split("\n")
        for first in sorted(replacements, reverse=True):
            n, actual = replacements[first]
            cmd_lines = 1
            while lines[first + cmd_lines - 1].endswith("\\"):
                cmd_lines += 1
            end = first + cmd_lines
            while end < len(lines) and not lines[end].startswith("$ ") and lines[end].rstrip() != "```":
                end += 1
            lines[first + cmd_lines:end] = actual
        path.write_text("\n".join(lines), encoding="utf-8")
    return problems


if __name__ == "__main__":
    args = sys.argv[1:]
    upd = "--update" in args
    files = [Path(a) for a in args if a != "--update"]
    bad = 0
    for f in files:
        for prob in check_file(f, update=upd):
            bad += 1
            print(prob, "\n")
    print(f"{bad} mismatches")
