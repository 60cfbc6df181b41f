"""Fuzzing what round 2 of the hardening closed: names, schedule files that name code, limits,
trace fields.  Each campaign counts its inputs in ``fuzz_support.STATS`` and prints them in
``test_fuzz_hardening_summary`` (visible with ``-rP``).  Inputs that once failed are kept as
regression tests in ``test_fuzz_hardening_regressions.py``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import json
import resource
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz_support import STATS, fuzz_examples, time_limit
from highmem.cli import main
from highmem.errors import HighmemError
from highmem.scenarios import load_toml_text
from highmem.scenarios.limits import MAX_MOVED, moved
from highmem.scenarios.names import file_stem, inside, is_name
from highmem.sim.schedule import save_schedule

SETTINGS = settings(max_examples=fuzz_examples(400), deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
CLI_SETTINGS = settings(max_examples=fuzz_examples(150), deadline=None, derandomize=True, database=None,
                        suppress_health_check=list(HealthCheck))

#: names: plain, path-like, markup, control characters, reserved, long
name_text = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
    st.sampled_from(["../../x", "/abs", "a/b", "..", ".", "e#1", "[red]x[/]", "CALL_FUNCTION_VECTOR", "init",
                     "a\x1b[2J", "a\x00b", "x" * 64, "x" * 65, "ok", "_", "a.b-c", "\u202eevil", "COM1"]))


def _toml_str(s: str) -> str:
    return json.dumps(s)  # a JSON string literal is a valid TOML basic string


@SETTINGS
@given(scenario=name_text, page=name_text, task=name_text, lock=name_text)
def test_fuzz_names(tmp_path_factory: pytest.TempPathFactory, scenario: str, page: str, task: str,
                    lock: str) -> None:
    """Any name: the loader accepts only valid names, and the --out file names stay inside DIR."""
    STATS[("names", "inputs")] += 1
    text = (f"[scenario]\nname = {_toml_str(scenario)}\n[pages]\n{_toml_str(page)} = \"highmem\"\n"
            f"[[task]]\nname = {_toml_str(task)}\nops = [{{ op = \"spin_lock\", lock = {_toml_str(lock)} }}, "
            f"{{ op = \"spin_unlock\", lock = {_toml_str(lock)} }}]\n")
    try:
        with time_limit(5):
            sc = load_toml_text(text, "<fuzz>")
    except HighmemError as e:
        STATS[("names", "refused")] += 1
        assert "\n" not in str(e)
        return
    STATS[("names", "loaded")] += 1
    assert is_name(sc.name) and is_name(sc.pages[0].name) and is_name(sc.contexts[0].name)
    d = tmp_path_factory.mktemp("names")
    path = inside(d, file_stem(sc.name, "stale-access") + ".schedule.json")
    assert path.resolve().parent == d.resolve()


@st.composite
def named_code(draw: Any) -> str:
    return draw(st.one_of(
        st.sampled_from(["os:abort", "os:getcwd", "subprocess:run", "evil.py", "evil.py:scenario", "x.toml",
                         "/etc/passwd", "builtin:../x", "builtin:", "builtin:os:abort", "highmem:main",
                         "builtin:irq-uses-user-slot", "irq-uses-user-slot"]),
        st.text(max_size=20)))


@CLI_SETTINGS
@given(scenario=named_code(), extra=st.sampled_from([[], ["--json"], ["-q"]]))
def test_fuzz_replay_never_imports(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
                                   scenario: str, extra: list[str]) -> None:
    """A schedule file naming anything: --replay imports nothing, exits 0, 1 or 2 with one sentence."""
    STATS[("replay names", "inputs")] += 1
    d = tmp_path_factory.mktemp("replay")
    (d / "evil.py").write_text("raise SystemExit('imported')\n", encoding="utf-8")
    sched = d / "s.json"
    save_schedule(sched, {"scenario": scenario, "digest": "sha256:0", "profile": "linux-2.4", "config": [],
                          "finding": {"kind": "stale-access", "message": "m"}, "steps": 1, "choices": []})
    imported: list[str] = []
    real_import = importlib.import_module

    def spy_import(name: str, package: str | None = None) -> Any:
        if not name.startswith("highmem") and name not in ("rich", "distributed"):
            imported.append(name)
        return real_import(name, package)

    monkeypatch.setattr(importlib, "import_module", spy_import)
    real_spec = importlib.util.spec_from_file_location

    def spy_spec(name: str, *a: Any, **k: Any) -> Any:
        # An editable install's finder loads highmem's own modules through this function too.
        if name.startswith("highmem"):
            return real_spec(name, *a, **k)
        imported.append(str((name, *a[:1])))
        return None

    monkeypatch.setattr(importlib.util, "spec_from_file_location", spy_spec)
    err = io.StringIO()
    with contextlib.chdir(d), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err), \
            time_limit(30):
        rc = main(["check", "--replay", str(sched), *extra])
    assert imported == [], imported
    assert rc in (0, 1, 2)
    if rc == 2:
        lines = err.getvalue().splitlines()
        assert lines and all(line.startswith("highmem: ") for line in lines)
    STATS[("replay names", f"exit {rc}")] += 1


@st.composite
def costly(draw: Any) -> str:
    """A scenario whose operations may move a lot of bytes: large stores, copies, repeats, nesting."""
    def op(depth: int) -> str:
        kind = draw(st.sampled_from(["store", "copy", "load", "work", "repeat"] if depth < 20 else
                                    ["store", "copy", "load", "work"]))
        if kind == "store":
            return (f'{{ op = "store", addr = "A", data = "x", '
                    f'repeat = {draw(st.sampled_from([1, 4096, 1 << 20, 16 << 20, (16 << 20) + 1]))} }}')
        if kind == "copy":
            return f'{{ op = "copy", dst = "A", src = "A", size = {draw(st.sampled_from([1, 4096, 16 << 20]))} }}'
        if kind == "load":
            return f'{{ op = "load", addr = "A", size = {draw(st.sampled_from([1, 4096, 1 << 24]))} }}'
        if kind == "work":
            return f'{{ op = "work", steps = {draw(st.integers(0, 5))} }}'
        body = ", ".join(op(depth + 1) for _ in range(draw(st.integers(1, 2))))
        return f'{{ op = "repeat", count = {draw(st.sampled_from([0, 1, 2, 1000, 199990]))}, ops = [{body}] }}'
    ops = ", ".join(op(0) for _ in range(draw(st.integers(1, 6))))
    return ('[scenario]\nmax_steps = 10000000\n[pages]\nA = "highmem"\n[[task]]\nname = "t"\n'
            f'ops = [{{ op = "kmap_atomic", page = "A", type = "KM_USER0" }}, {ops}]\n')


@SETTINGS
@given(text=costly())
def test_fuzz_limits(text: str) -> None:
    """Costly scenarios: refused at load time with the limit named, or within every documented limit."""
    STATS[("limits", "inputs")] += 1
    try:
        with time_limit(5):
            sc = load_toml_text(text, "<fuzz>")
    except HighmemError as e:
        msg = str(e)
        assert "limit" in msg or "too large" in msg or "no step" in msg or "step budget" in msg, msg
        STATS[("limits", "refused")] += 1
        return
    assert moved(sc.contexts[0].ops or []) <= MAX_MOVED
    STATS[("limits", "loaded")] += 1


@st.composite
def trace_records(draw: Any) -> str:
    huge = st.sampled_from([0, 1, -1, 63, 64, 10**9, 10**18, 2**63, -(2**63), 2**70])
    header = {"schema": "highmem-trace", "version": 2, "cpus": draw(st.sampled_from([1, 2, 64, 65, 10**9])),
              "scenario": "fuzz", "steps": draw(huge), "profile": "linux-2.4"}
    recs = []
    step = 0
    for _ in range(draw(st.integers(0, 5))):
        step += draw(st.integers(0, 3))
        rec: dict[str, Any] = {"step": draw(st.one_of(st.just(step), huge)),
                               "kind": draw(st.sampled_from(["set_pte", "kmap_atomic", "load", "store", "cpu_state",
                                                             "slot_state", "pkmap_state", "irq_enter", "nope"]))}
        for field in draw(st.lists(st.sampled_from(["cpu", "idx", "size", "vaddr", "pfn", "nr", "level",
                                                    "count", "old", "new"]), max_size=4, unique=True)):
            rec[field] = draw(huge)
        recs.append(rec)
    if draw(st.booleans()):
        header["events"] = len(recs)
    return "\n".join(json.dumps(x) for x in [header, *recs]) + "\n"


@CLI_SETTINGS
@given(body=trace_records())
def test_fuzz_trace_fields(tmp_path_factory: pytest.TempPathFactory, body: str) -> None:
    """Traces with huge CPU, step, index and size fields: report exits 0 or 2, quickly, without a traceback."""
    STATS[("trace fields", "inputs")] += 1
    d = tmp_path_factory.mktemp("trace")
    t = d / "t.jsonl"
    t.write_text(body, encoding="utf-8")
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err), time_limit(20):
        rc = main(["report", str(t), "-o", str(d / "t.html")])
    assert rc in (0, 2) and "Traceback" not in err.getvalue()
    STATS[("trace fields", f"exit {rc}")] += 1


def test_fuzz_hardening_peak_rss() -> None:
    """After every campaign of this module in this process, the peak RSS stayed under 1 GB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert peak < 10**9, f"peak RSS {peak / 1e6:.0f} MB"


@pytest.mark.parametrize("test", ["names", "replay names", "limits", "trace fields"])
def test_fuzz_hardening_summary(test: str) -> None:
    """Print what each campaign ran (visible with -rP)."""
    rows = sorted((k[1], n) for k, n in STATS.items() if k[0] == test)
    if not rows:
        pytest.skip("the fuzz test did not run in this session")
    print(f"\nhardening fuzzing, {test}:")
    for outcome, n in rows:
        print(f"  {outcome:40s} {n:6d}")
    assert dict(rows).get("inputs", 0) > 0


