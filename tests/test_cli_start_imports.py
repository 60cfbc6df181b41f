"""What a start-up imports: `check NAME --json` of a built-in and `--version` leave the costly modules out."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: Imported by none of the commands below: rich (terminal output only), tomllib (built-ins are parsed
#: already), hashlib (OpenSSL; highmem.sha is enough), pathlib (with urllib.parse) and shutil (with bz2
#: and lzma; argparse's help formatter asks it for the terminal width).
NOT_AT_START = ("rich", "tomllib", "hashlib", "pathlib", "urllib.parse", "shutil", "bz2", "lzma")
#: Nor these, which the model's value classes and named tuples are built without (highmem._record,
#: highmem._typing): dataclasses with inspect (and its ast, dis, tokenize), typing, weakref.
NOT_IN_THE_MODEL = ("dataclasses", "inspect", "ast", "dis", "tokenize", "typing", "weakref")


def _imported(argv: list[str]) -> set[str]:
    code = ("import io, sys\n"
            "from highmem.cli import main\n"
            "out, sys.stdout = sys.stdout, io.StringIO()\n"
            f"status = main({argv!r})\n"
            "sys.stdout = out\n"
            "print(status, ' '.join(sorted(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    status, _, modules = out.strip().partition(" ")
    assert status == "0"
    return set(modules.split())


@pytest.mark.parametrize("argv", [["check", "copy-highpage", "--schedules", "1", "--json"],
                                  ["check", "copy-highpage", "--schedules", "2", "--strategy", "random",
                                   "--json"]])
def test_check_json_of_a_builtin_imports_none_of_the_costly_modules(argv: list[str]) -> None:
    """`highmem check BUILTIN --json` imports neither rich, tomllib, hashlib, pathlib, shutil, dataclasses,
    inspect, typing nor weakref."""
    mods = _imported(argv)
    assert "highmem.sim.explore" in mods  # it did run the model
    assert sorted(m for m in NOT_AT_START + NOT_IN_THE_MODEL if m in mods) == []


def test_check_builds_only_its_own_subcommand() -> None:
    """`highmem check ...` imports no other subcommand's module."""
    mods = _imported(["check", "copy-highpage", "--schedules", "1", "--json"])
    others = {"layout", "report", "compare", "scenarios", "scan", "completion"}
    assert sorted(m for m in mods if m.removeprefix("highmem.cli.") in others) == []


def test_version_imports_no_parser_and_no_model() -> None:
    """`highmem --version` imports no highmem module but the CLI's, the errors' and the package's lazy-export
    helper (which imports nothing), nor argparse or typing."""
    mods = _imported(["--version"])
    allowed = ("highmem.cli", "highmem.errors", "highmem._lazy")
    assert sorted(m for m in mods if m.startswith("highmem.") and m not in allowed) == []
    assert sorted(m for m in NOT_AT_START + ("argparse", "typing") if m in mods) == []
