"""Regression tests: the inputs issue 11 (round 2 of the hardening) found failing, each pinned to
what it gives now.  The campaigns that found them are in ``test_fuzz_hardening.py``; inputs pinned
elsewhere are named in the docstring of the test that holds them."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from fuzz_support import time_limit
from highmem.cli import main

CASES = {
    # name -> (TOML text, exit status, the start of stderr)
    "name-dotdot": ('[scenario]\nname = "../../x"\n[[task]]\nname = "t"\nops = [{ op = "work" }]\n', 2,
                    "highmem: S:2: [scenario] name '../../x' is not a plain name"),
    "name-absolute": ('[scenario]\nname = "/tmp/x"\n[[task]]\nname = "t"\nops = [{ op = "work" }]\n', 2,
                      "highmem: S:2: [scenario] name '/tmp/x' is not a plain name"),
    "name-nul": ('[scenario]\nname = "a\\u0000b"\n[[task]]\nname = "t"\nops = [{ op = "work" }]\n', 2,
                 "highmem: S:2: [scenario] name 'a\\x00b' is not a plain name"),
    "name-300-bytes": (f'[scenario]\nname = "{"n" * 300}"\n[[task]]\nname = "t"\nops = [{{ op = "work" }}]\n', 2,
                       f"highmem: S:2: [scenario] name '{'n' * 64}'... is 300 characters long: a name has at most 64"),
    "name-markup": ('[scenario]\nname = "[red]x[/]"\n[[task]]\nname = "t"\nops = [{ op = "work" }]\n', 2,
                    "highmem: S:2: [scenario] name '[red]x[/]' is not a plain name"),
    "task-handler-instance": ('[[task]]\nname = "e#1"\nops = [{ op = "work" }]\n', 2,
                              "highmem: S:1: [[task]] name 'e#1' is not a plain name"),
    "irq-ipi-name": ('[[task]]\nname = "t"\nops = [{ op = "work" }]\n[[irq]]\nname = "CALL_FUNCTION_VECTOR"\n'
                     'ops = [{ op = "work" }]\n', 2, "highmem: S:4: [[irq]] name 'CALL_FUNCTION_VECTOR' is reserved"),
    "repeat-body-string-steps": ('[[task]]\nname = "t"\nops = [{ op = "repeat", count = 2, ops = [{ op = "work", '
                                 'steps = "3" }] }]\n', 2, "highmem: S:3: work steps must be an integer, not '3'"),
    "binding-in-count-zero": ('[[task]]\nname = "t"\nops = [{ op = "repeat", count = 0, ops = [{ op = "save_flags", '
                              'as = "f" }] }, { op = "restore_flags", flags = "f" }]\n', 2,
                              "highmem: S:3: restore_flags uses flags 'f' before"),
    "repeat-200-deep": ('[[task]]\nname = "t"\nops = [' + '{ op = "repeat", count = 1, ops = [' * 200 +
                        '{ op = "work" }' + "] }" * 200 + "]\n", 2,
                        "highmem: S: its arrays or tables are nested too deeply to read"),
    "48-large-stores": ('[pages]\nA = "highmem"\n[[task]]\nname = "t"\nops = [{ op = "kmap_atomic", page = "A", '
                        'type = "KM_USER0" }' + ', { op = "store", addr = "A", data = "x", repeat = 16000000 }' * 48
                        + "]\n", 2, "highmem: S:3: the scenario moves at least 768000000 bytes per schedule"),
    "copy-16m-199990-times": ('[pages]\nA = "highmem"\n[[task]]\nname = "t"\nops = [{ op = "kmap_atomic", page = "A", '
                              'type = "KM_USER0" }, { op = "repeat", count = 199990, ops = [{ op = "copy", dst = "A", '
                              'src = "A", size = 16777216 }] }]\n', 2,
                              "highmem: S:3: the scenario moves at least 3355275427840 bytes per schedule"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fuzz_hardening_regression_scenarios(tmp_path: Path, case: str) -> None:
    """Each scenario input of issue 11 exits with its status and one sentence, within seconds."""
    text, status, start = CASES[case]
    path = tmp_path / "S.toml"
    path.write_text(text, encoding="utf-8")
    err = io.StringIO()
    with contextlib.chdir(tmp_path), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err), \
            time_limit(30):
        rc = main(["check", "S.toml", "--schedules", "1", "--out", str(tmp_path / "out")])
    assert (rc, err.getvalue().count("\n")) == (status, 1), err.getvalue()
    assert err.getvalue().startswith(start.replace("S:", "S.toml:")), err.getvalue()
    assert not (tmp_path / "out").exists()


def test_fuzz_hardening_regression_exhaustive_negative_bound(capsys: pytest.CaptureFixture[str]) -> None:
    """--strategy exhaustive --max-preemptions -1 on a buggy built-in: exit 2, not a clean exit 0."""
    assert main(["check", "irq-uses-user-slot", "--strategy", "exhaustive", "--max-preemptions", "-1"]) == 2
    assert capsys.readouterr().err == "highmem: --max-preemptions -1 is invalid: a bound is 0 (none) or more\n"


def test_fuzz_hardening_regression_markup_path_in_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An --out directory named like rich markup is written and printed as given."""
    out = tmp_path / "[red]d[/]"
    assert main(["check", "irq-uses-user-slot", "--schedules", "100", "--out", str(out), "--json"]) == 1
    files = {f["schedule_file"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert f"{out}/irq-uses-user-slot.stale-access.schedule.json" in files
    sched = json.loads((out / "irq-uses-user-slot.stale-access.schedule.json").read_text(encoding="utf-8"))
    assert sched["scenario"] == "builtin:irq-uses-user-slot"
