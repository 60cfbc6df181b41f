"""Fuzzing the command line: argv built from the real subcommands and options with random values.

``highmem.cli.main(argv)`` runs in-process under a SIGALRM guard (a hang fails).  The contract
for every argv: the return code is 0, 1 or 2; a ``SystemExit`` (argparse) has code 0 or 2;
nothing else escapes; stderr holds no "Traceback"; a return code of 2 from a subcommand comes
with a one-line ``highmem: ...`` sentence on stderr.  Two more fuzzers feed ``check --replay``
mutated schedule files and ``report`` mutated trace files.  A few subprocess runs
(``python -m highmem``) check the same at the process level.

Values are random but the expensive ones are bounded: ``--schedules`` is only ever 1 to 3 when
it is valid (or invalid: 0, negative, not a number), ``--jobs`` is never above 1 (a process
pool per example would dominate the budget), the slow built-in ``bounce-io`` is not used, and
``--executor dask`` never gets a ``--scheduler`` address (it would wait for a network timeout).
Known src bugs are counted, not failed (see ``fuzz_support``), unless ``HIGHMEM_FUZZ_STRICT=1``.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz_support import STATS, STRICT, FuzzTimeout, fuzz_examples, time_limit
from highmem.cli import main

SETTINGS = settings(max_examples=fuzz_examples(3000), deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
FILE_SETTINGS = settings(max_examples=fuzz_examples(300), deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(HealthCheck))

FAST = ["copy-highpage", "irq-uses-user-slot", "kmap-in-irq", "exit-holding-kmap", "sleep-holding-kmap",
        "kmap-local-wrong-order", "km-irq-collision-2005"]
PROFILES = ["linux-2.4", "linux-2.6", "linux-2.6.37", "linux-5.11"]
#: symbolic paths, made concrete per example by ``resolve``
PATHS = ["NEW", "NEW.toml", "NEW.py", "FILE", "DIR", "MISSING/x", "FILE/sub", "", "SCHED", "TRACE", "TOML",
         "BADTOML", "PY", "PY:nope", "/dev/null", "-", "DIR/"]
INTS = ["0", "1", "2", "-1", "-7", "3", "32", "33", "4096", "99999999999999999999", "-99999999999999999999",
        "0x10", "1e3", "", "x", "2.5", " 1"]
CONFIGS = ["DEBUG_HIGHMEM=y", "DEBUG_HIGHMEM=n", "SMP=n", "HIGHMEM=n", "PREEMPT=y", "X86_PAE=y", "NOPE=y",
           "DEBUG_HIGHMEM=maybe", "=", "", "DEBUG_HIGHMEM", "CONFIG_SMP=y", "KUNMAP_POP_BEFORE_CLEAR=y"]
JUNK = ["--bogus", "-x", "--", "--schedules", "--json=1", "\u00e9", "--help"]

text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x00"), max_size=10)


def opt(name: str, values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    return st.one_of(st.just([]), values.map(lambda v: [name, v]))


def flag(name: str) -> st.SearchStrategy[list[str]]:
    return st.sampled_from([[], [name]])


# Mostly well-formed integers (so that the option reaches highmem), sometimes anything.
ints = st.one_of(*[st.sampled_from(INTS[:9])] * 3, st.sampled_from(INTS), text)
schedules = st.sampled_from(["1", "2", "3", "1", "2", "3", "0", "-1", "-100", "x", "", "1.0"])
paths = st.sampled_from(PATHS)
scenario_args = st.one_of(st.sampled_from(FAST), st.sampled_from(FAST), paths, text,
                          st.sampled_from(["nope", "builtin:copy-highpage", "os:path", "a:b:c", ":"]))


def _cat(parts: list[list[str]]) -> list[str]:
    return list(itertools.chain.from_iterable(parts))


# Every check and compare names its scenarios and --schedules (the defaults, every built-in and 100
# schedules, would dominate the budget); option lists may still repeat --schedules with a small value.
check_argv = st.tuples(
    st.lists(scenario_args, min_size=1, max_size=2), schedules,
    st.lists(st.one_of(
        opt("--profile", st.one_of(st.sampled_from(PROFILES), text)),
        opt("--strategy", st.sampled_from(["random", "pct", "exhaustive", "PCT", ""])),
        opt("--schedules", schedules), opt("--seed", ints), opt("--depth", ints),
        opt("--max-preemptions", ints), opt("--max-interrupts", ints), opt("--replay", paths),
        opt("--config", st.one_of(st.sampled_from(CONFIGS), text)), flag("--no-shrink"), flag("--json"),
        flag("-q"), opt("--out", paths), opt("--jobs", st.sampled_from(["1", "0", "-1", "x"])),
        opt("--executor", st.sampled_from(["process", "dask", "threads", ""])),
        opt("--scheduler", st.sampled_from(["tcp://127.0.0.1:1", "x"])), opt("--trace", paths),
        opt("--html", paths)), max_size=5),
).map(lambda t: ["check", *t[0], "--schedules", t[1], *_cat(t[2])])

compare_argv = st.tuples(
    st.lists(scenario_args, min_size=0, max_size=2), schedules,
    st.lists(st.one_of(
        opt("--profiles", st.one_of(st.sampled_from(["linux-2.4", "linux-2.4,linux-5.11", ",", "", "nope",
                                                     "linux-2.6, linux-2.6.37", "linux-2.4,linux-2.4"]), text)),
        opt("--strategy", st.sampled_from(["random", "pct", "exhaustive", "x"])), opt("--schedules", schedules),
        opt("--seed", ints), opt("--depth", ints), opt("--config", st.one_of(st.sampled_from(CONFIGS), text)),
        flag("--json"), opt("--trace", paths)), max_size=4),
).map(lambda t: ["compare", *t[0], "--schedules", t[1], *_cat(t[2])])

layout_argv = st.lists(st.one_of(
    opt("--profile", st.one_of(st.sampled_from(PROFILES), text)), opt("--cpus", ints), opt("--nr-cpus", ints),
    flag("--pae"), opt("--km-types", st.sampled_from(["2.4.22", "book", "x", ""])),
    opt("--memory", st.one_of(st.sampled_from(["2G", "512M", "16M", "15M", "64G", "4G", "1T", "0", "-1G", "",
                                               "2g", "1.5G", "99999999999999999999G"]), text)),
    opt("--config", st.one_of(st.sampled_from(CONFIGS), text)), flag("--json"), opt("--svg", paths)),
    max_size=5).map(lambda parts: ["layout", *_cat(parts)])

other_argv = st.one_of(
    st.tuples(paths, st.one_of(st.just([]), paths.map(lambda p: ["-o", p]), paths.map(lambda p: ["--output", p])))
    .map(lambda t: ["report", t[0], *t[1]]),
    flag("--json").map(lambda f: ["scenarios", *f]),
    # (bare "check" would explore every built-in 100 times: 12 s; "layout" is cheap)
    st.lists(st.one_of(st.sampled_from(JUNK + ["layout", "chek", ""]), text), max_size=3),
)

argvs = st.one_of(check_argv, check_argv, compare_argv, layout_argv, other_argv).flatmap(
    # One argv in eight gets a junk token somewhere.
    lambda a: st.tuples(st.just(a), st.integers(0, 7), st.sampled_from(JUNK), st.integers(0, len(a))).map(
        lambda t: t[0][:t[3]] + [t[2]] + t[0][t[3]:] if t[1] == 7 else t[0]))


# -- fixtures -----------------------------------------------------------------------------------------
SMALL_TOML = """\
[scenario]
name = "fuzz-small"

[pages]
p = { fill = "p" }

[[task]]
name = "t"
ops = [
  { op = "kmap_atomic", page = "p", type = "KM_USER0", as = "v" },
  { op = "load", addr = "v", size = 1 },
  { op = "kunmap_atomic", addr = "v", type = "KM_USER0" },
]
"""

SMALL_PY = """\
from highmem.scenarios import ContextSpec, Scenario


def body(k, pages):
    k.load(0xC0000000, 1)


def scenario():
    return Scenario(name="fuzz-py", contexts=[ContextSpec("task", "t", 0, fn=body)])
"""


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real inputs to point at: a schedule and a trace written by --out, scenario files, junk."""
    d = tmp_path_factory.mktemp("cli-fuzz")
    out = d / "out"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["check", "irq-uses-user-slot", "--schedules", "100", "--out", str(out), "-q"]) == 1
    (d / "junk.txt").write_text("junk\n")
    (d / "dir").mkdir()
    (d / "small.toml").write_text(SMALL_TOML)
    (d / "bad.toml").write_text("[scenario\nname = 1\n")
    (d / "small.py").write_text(SMALL_PY)
    return d


_counter = itertools.count()


#: the fixture files a symbolic path may name (copied per example: an --svg or --trace may overwrite them)
_FILES = {"FILE": "junk.txt", "SCHED": "out/irq-uses-user-slot.stale-access.schedule.json",
          "TRACE": "out/irq-uses-user-slot.stale-access.trace.jsonl", "TOML": "small.toml", "BADTOML": "bad.toml",
          "PY": "small.py"}


def resolve(token: str, work: Path) -> str:
    """A symbolic path made concrete, in a fresh directory per use: NEW paths do not exist yet,
    the others are copies of the fixture files (or a directory, or under a missing one)."""
    fresh = work / f"ex{next(_counter)}"
    fresh.mkdir()
    (fresh / "dir").mkdir()
    base = token.split(":")[0].split("/")[0]
    if base in _FILES:
        src = work / _FILES[base]
        # Keep the file name: a schedule names its scenario, a Python scenario its module.
        dst = fresh / src.name
        dst.write_bytes(src.read_bytes())
    table = {
        "NEW": fresh / "new", "NEW.toml": fresh / "new.toml", "NEW.py": fresh / "new.py",
        "FILE": fresh / "junk.txt", "DIR": fresh / "dir", "DIR/": f"{fresh / 'dir'}/",
        "MISSING/x": fresh / "missing" / "x", "FILE/sub": fresh / "junk.txt" / "sub",
        "SCHED": fresh / "irq-uses-user-slot.stale-access.schedule.json",
        "TRACE": fresh / "irq-uses-user-slot.stale-access.trace.jsonl",
        "TOML": fresh / "small.toml", "BADTOML": fresh / "bad.toml", "PY": fresh / "small.py",
        "PY:nope": f"{fresh / 'small.py'}:nope",
    }
    return str(table.get(token, token))


def run_cli(argv: list[str], seconds: float = 30.0) -> tuple[Any, str, str]:
    """``main(argv)`` in-process: (return code or ("exit", code) or ("raise", exc), stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    rc: Any
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            with time_limit(seconds):
                rc = main(argv)
        except SystemExit as e:
            rc = ("exit", e.code)
        except FuzzTimeout as e:
            rc = ("hang", e)
        except Exception as e:  # noqa: BLE001 - judged below
            rc = ("raise", e)
    return rc, out.getvalue(), err.getvalue()


def _value_of(argv: list[str], name: str, default: str) -> str:
    val = default
    for a, b in itertools.pairwise(argv):
        if a == name:
            val = b
    return val


def known_cli_skip(argv: list[str]) -> str | None:
    """Argv that would hit a known open hang: none are open (see test_fuzz_regressions.py)."""
    return None


def known_cli_bug(argv: list[str], exc: BaseException) -> str | None:
    """The known open bug an exception is: none are open."""
    return None


def judge(argv: list[str], test: str, cwd: Path) -> None:
    """Run ``argv`` in ``cwd`` (relative names such as ``-`` land there) and check the contract."""
    STATS[(test, "inputs")] += 1
    skip = known_cli_skip(argv)
    if skip is not None and not STRICT:
        STATS[(test, f"known bug {skip}")] += 1
        return
    with contextlib.chdir(cwd):
        rc, out, err = run_cli(argv)
    where = f"argv={argv!r}\nstderr:\n{err}"
    if isinstance(rc, tuple):
        what, val = rc
        if what == "exit":
            assert val in (0, 2), f"SystemExit({val!r})\n{where}"
            STATS[(test, f"argparse exit {val}")] += 1
            assert "Traceback" not in err, where
            return
        if what == "hang":
            raise AssertionError(f"highmem hung: {val}\n{where}")
        bug = known_cli_bug(argv, val)
        if bug is None or STRICT:
            raise AssertionError(f"main raised {type(val).__name__}: {val}\n{where}") from val
        STATS[(test, f"known bug {bug}")] += 1
        return
    assert rc in (0, 1, 2), f"return code {rc!r}\n{where}"
    assert "Traceback" not in err, where
    if rc == 2 and argv and argv[0] in ("check", "compare", "layout", "report", "scenarios"):
        lines = err.strip().splitlines()
        assert lines and all(line.startswith("highmem: ") for line in lines), f"rc 2 without a sentence\n{where}"
    STATS[(test, f"exit {rc}")] += 1


@SETTINGS
@given(argvs)
def test_fuzz_cli_argv(work: Path, argv: list[str]) -> None:
    """Random argv over the real subcommands and options: exit 0, 1 or 2, never a traceback or a hang."""
    concrete = [resolve(a, work) if a in PATHS and a not in ("", "-") else a for a in argv]
    judge(concrete, "argv", work)


# -- schedule files for check --replay -------------------------------------------------------------------
json_junk = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-3, 10**12), st.floats(allow_nan=False),
                                   text), lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                  st.dictionaries(text, inner, max_size=3)),
                         max_leaves=5)


@st.composite
def schedule_docs(draw: Any) -> str:
    base: dict[str, Any] = {
        "format": "highmem-schedule", "version": 1, "scenario": "builtin:irq-uses-user-slot",
        "digest": "DIGEST", "profile": "linux-2.4", "config": [], "strategy": "pct", "seed": 0,
        "schedule_index": 44, "steps": 91, "finding": {"kind": "stale-access", "message": "m"},
        "choices": [[37, "irq eth0@0"]]}
    doc = dict(base)
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(sorted(base) + ["extra"]))
        r = draw(st.integers(0, 5))
        if r == 0:
            doc.pop(key, None)
        elif r == 1:
            doc[key] = draw(json_junk)
        elif r == 2 and key == "choices":
            doc[key] = [[draw(st.integers(-2, 200)), draw(st.sampled_from(["irq eth0@0", "run writer@0",
                                                                            "run bystander@1", "x"]))]
                        for _ in range(draw(st.integers(0, 3)))]
        elif r == 3:
            doc[key] = draw(st.sampled_from([[], {}, None, "", 0, ["DEBUG_HIGHMEM=y"], "DEBUG_HIGHMEM=y",
                                             "linux-5.11", "copy-highpage", True]))
    body = json.dumps(doc)
    if draw(st.integers(0, 7)) == 7:
        body = body[:draw(st.integers(0, len(body)))]
    return body


@FILE_SETTINGS
@given(schedule_docs(), st.sampled_from([[], ["irq-uses-user-slot"], ["copy-highpage"], ["--json"],
                                         ["--config", "DEBUG_HIGHMEM=y"], ["--profile", "linux-5.11"]]))
def test_fuzz_cli_replay_files(work: Path, body: str, extra: list[str]) -> None:
    """Mutated schedule files for ``check --replay``: exit 0, 1 or 2, never a traceback."""
    digest = json.loads((work / "out" / "irq-uses-user-slot.stale-access.schedule.json").read_text())["digest"]
    path = work / f"sched{next(_counter)}.json"
    path.write_text(body.replace("DIGEST", digest))
    judge(["check", "--replay", str(path), *extra], "replay files", work)


# -- trace files for report ---------------------------------------------------------------------------------
@st.composite
def trace_texts(draw: Any, lines: list[str]) -> str:
    """Line edits and field edits of a real trace; half the time the header's event count is
    fixed up afterwards, so that the edit reaches the renderer instead of the count check."""
    out = list(lines)
    for _ in range(draw(st.integers(1, 3))):
        if not out:
            out.append(draw(text))
            continue
        i = draw(st.integers(0, len(out) - 1))
        r = draw(st.integers(0, 9))
        if r == 0:
            del out[i]
        elif r == 1:
            out.insert(i, out[i])
        elif r <= 7:
            try:
                rec = json.loads(out[i])
            except ValueError:
                continue
            if isinstance(rec, dict) and rec:
                key = draw(st.sampled_from(sorted(rec) + ["extra"]))
                if r <= 5:
                    rec[key] = draw(st.one_of(json_junk, st.sampled_from([-1, 0, 10**9, "", [], {}, None])))
                else:
                    rec.pop(key, None)
                out[i] = json.dumps(rec)
        elif r == 8:
            out[i] = out[i][:draw(st.integers(0, len(out[i])))]
        else:
            out = out[:i]
    if out and draw(st.booleans()):
        try:
            head = json.loads(out[0])
        except ValueError:
            head = None
        if isinstance(head, dict):
            head["events"] = len(out) - 1
            out[0] = json.dumps(head)
    return "\n".join(out) + "\n"


def known_report_skip(body: str) -> str | None:
    """A trace the renderer would spend minutes or gigabytes on (pinned by test_fuzz_regressions.py):
    it sizes its work by the header's ``cpus`` and ``steps`` and the records' ``step`` and ``cpu``
    without bounding them (cpus 10**6: > 10 s; a record at step 10**9: MemoryError)."""

    def big(v: Any, limit: int) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool) and v > limit

    for n, line in enumerate(body.splitlines()):
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if not isinstance(rec, dict):
            continue
        if n == 0 and (big(rec.get("cpus"), 1000) or big(rec.get("steps"), 100_000)):
            return "report-trusts-trace-sizes"
        if n > 0 and (big(rec.get("step"), 100_000) or big(rec.get("cpu"), 1000)):
            return "report-trusts-trace-sizes"
    return None


@FILE_SETTINGS
@given(st.data())
def test_fuzz_cli_report_files(work: Path, data: st.DataObject) -> None:
    """Mutated trace files for ``report``: exit 0 or 2, never a traceback."""
    lines = (work / "out" / "irq-uses-user-slot.stale-access.trace.jsonl").read_text().splitlines()
    body = data.draw(trace_texts(lines))
    skip = known_report_skip(body)
    if skip is not None and not STRICT:
        STATS[("report files", "inputs")] += 1
        STATS[("report files", f"known bug {skip}")] += 1
        return
    path = work / f"trace{next(_counter)}.jsonl"
    path.write_text(body)
    judge(["report", str(path), "-o", str(work / f"report{next(_counter)}.html")], "report files", work)


# -- at the process level ------------------------------------------------------------------------------------
NASTY = [
    ["check", "--schedules", "-1", "copy-highpage"],
    ["check", "/nonexistent/x.toml"],
    ["check", "BADTOML", "--schedules", "1"],
    ["check", "--replay", "FILE"],
    ["check", "PY:nope"],
    ["check", "copy-highpage", "--schedules", "1", "--config", "DEBUG_HIGHMEM=maybe"],
    ["compare", "nope", "--schedules", "1"],
    ["layout", "--memory", "99999999999999999999G", "--nr-cpus", "-1"],
    ["report", "DIR", "-o", "DIR"],
    ["scenarios", "--bogus"],
    ["\u00e9", "--"],
]


@pytest.mark.parametrize("argv", NASTY, ids=[" ".join(a) or "empty" for a in NASTY])
def test_fuzz_cli_subprocess(work: Path, argv: list[str]) -> None:
    """``python -m highmem`` with the nastiest inputs: exit 0, 1 or 2, no traceback at the process level."""
    concrete = [resolve(a, work) if a in PATHS and a not in ("", "-") else a for a in argv]
    p = subprocess.run([sys.executable, "-m", "highmem", *concrete], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "NO_COLOR": "1"}, cwd=work)
    assert p.returncode in (0, 1, 2), (p.returncode, p.stderr)
    assert "Traceback" not in p.stderr, p.stderr
    if p.returncode == 2 and argv[0] in ("check", "compare", "layout", "report", "scenarios"):
        assert p.stderr.startswith("highmem: "), p.stderr


@pytest.mark.parametrize("test", ["argv", "replay files", "report files"])
def test_fuzz_cli_summary(test: str) -> None:
    """Print what the campaign ran (visible with -s or -rP)."""
    rows = sorted((k[1], n) for k, n in STATS.items() if k[0] == test)
    if not rows:
        pytest.skip("the fuzz test did not run in this session")
    print(f"\nCLI fuzzing, {test}:")
    for outcome, n in rows:
        print(f"  {outcome:40s} {n:6d}")
    assert dict(rows).get("inputs", 0) > 0
