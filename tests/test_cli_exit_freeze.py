"""The program (`main()` without argv) leaves its objects to the exit; `main(argv)` in a longer process does not."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: Registered before main() runs, so it runs after main()'s own exit handler (atexit is last in, first out).
CODE = """\
import atexit, gc, io, sys
atexit.register(lambda: sys.stderr.write(f"frozen={gc.get_freeze_count() > 0}\\n"))
from highmem.cli import main
status = main(ARGV)
sys.stdout.flush()
raise SystemExit(status)
"""

ARGS = ["check", "copy-highpage", "--schedules", "1", "--json"]


@pytest.mark.parametrize(("as_program", "frozen"), [(True, True), (False, False)])
def test_exit_freeze_only_for_the_program(as_program: bool, frozen: bool) -> None:
    """As the program, the collector is frozen at exit; called with argv, it is not; the output is the same."""
    code = CODE.replace("ARGV", "" if as_program else repr(ARGS))
    r = subprocess.run([sys.executable, "-c", code, *(ARGS if as_program else [])], capture_output=True, text=True,
                       check=False)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines()[-1] == f"frozen={frozen}"
    assert json.loads(r.stdout)["scenario"] == "copy-highpage"


def test_program_output_and_status_unchanged() -> None:
    """The console script's stdout and exit status equal those of main(argv) run in the same way."""
    runs = []
    for code in ("import sys; from highmem.cli import main; sys.exit(main())",
                 f"import sys; from highmem.cli import main; sys.exit(main({ARGS!r}))"):
        argv = [sys.executable, "-c", code, *ARGS] if "main()" in code else [sys.executable, "-c", code]
        r = subprocess.run(argv, capture_output=True, text=True, check=False)
        runs.append((r.returncode, r.stdout))
    assert runs[0] == runs[1]
    assert runs[0][0] == 0
