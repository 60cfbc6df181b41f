"""Faults of the --jobs and Dask paths: recovered exactly, or reported as lost work with exit 3."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from pathlib import Path

import pytest

from highmem.cli import main

# A worker dies (os._exit) while running schedule 0, but only the first DEATHS times: a counter
# file shared by every worker keeps count, so later attempts run normally.
FLAKY = '''
import multiprocessing, os
from highmem.scenarios.model import ContextSpec, PageSpec, Scenario

COUNTER = {counter!r}
DEATHS = {deaths}

def body(k, pages):
    v = k.kmap_atomic(pages["A"], "KM_USER0")
    k.load(v, 1)
    k.kunmap_atomic(v, "KM_USER0")
    if multiprocessing.parent_process() is None:
        return
    fd = os.open(COUNTER, os.O_RDWR | os.O_CREAT)
    try:
        import fcntl
        fcntl.flock(fd, fcntl.LOCK_EX)
        n = int(os.read(fd, 16) or b"0")
        if n < DEATHS:
            os.lseek(fd, 0, 0)
            os.write(fd, str(n + 1).encode())
            os.fsync(fd)
            os._exit(7)
    finally:
        os.close(fd)

def scenario():
    return Scenario("flaky", machine={{"cpus": 1, "nr_cpus": 1, "config": {{"SMP": "n"}}}},
                    pages=[PageSpec("A")], contexts=[ContextSpec("task", "t", 0, fn=body)])
'''


def _flaky(tmp_path: Path, deaths: int) -> str:
    scen = tmp_path / "flaky.py"
    scen.write_text(FLAKY.format(counter=str(tmp_path / "deaths"), deaths=deaths), encoding="utf-8")
    return f"{scen}:scenario"


@pytest.mark.parametrize("deaths", [1, 2])
def test_faults_lost_workers_recovered_exactly(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               deaths: int) -> None:
    """A worker killed in the first pool (and one in the retry pool): the run equals the serial one, exit 0."""
    spec = _flaky(tmp_path, deaths)
    base = ["check", spec, "--strategy", "random", "--schedules", "40", "--json"]
    assert main(base + ["--jobs", "2", "--force-jobs"]) == 0
    par = json.loads(capsys.readouterr().out)
    assert (tmp_path / "deaths").read_text() == str(deaths)
    assert main(base) == 0
    serial = json.loads(capsys.readouterr().out)
    assert par == serial
    assert par["schedules"] == 40 and par["lost_schedules"] == 0 and par["incomplete"] is False


def test_faults_chunk_that_always_kills_is_lost_with_cause(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    """A chunk whose worker dies on every attempt is lost: counted in the JSON, named on stderr, exit 3."""
    spec = _flaky(tmp_path, 10**6)
    code = main(["check", spec, "--strategy", "random", "--schedules", "8", "--jobs", "2", "--force-jobs",
                 "--json"])
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert code == 3
    assert out["schedules"] == 0 and out["lost_schedules"] == 8 and out["incomplete"] is True
    assert [x["schedules"] for x in out["lost"]] == [[a, a + 1] for a in range(8)]
    # The cause is the worker's exit status; a pool that reports the break before the OS reports the
    # status is the rare exception, and then the cause names the broken pool.
    causes = [x["cause"] for x in out["lost"]]
    assert any(c.startswith("worker process ") and c.endswith(" exited with status 7") for c in causes), causes
    assert all(c.endswith(" exited with status 7") or c.startswith("BrokenProcessPool") for c in causes), causes
    line = "highmem: flaky: schedules 0 to 0 (seed 0) were not explored: their worker was lost on every attempt "
    assert f"{line}({causes[0]})" in captured.err, captured.err


def test_faults_lost_work_in_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The table counts lost schedules and never marks the scenario as matching."""
    spec = _flaky(tmp_path, 10**6)
    assert main(["check", spec, "--strategy", "random", "--schedules", "4", "--jobs", "2", "--force-jobs",
                 "-q"]) == 3
    out = capsys.readouterr().out
    assert "0 (+4 lost)" in out and "incomplete" in out and "✓" not in out


@pytest.mark.parametrize("argv, message", [
    (["--max-preemptions", "-1"], "--max-preemptions -1 is invalid: a bound is 0 (none) or more"),
    (["--max-interrupts", "-3"], "--max-interrupts -3 is invalid: a bound is 0 (none) or more"),
    (["--max-interrupts", "1001"], "--max-interrupts 1001 is too large: use at most 1000"),
    (["--seed", "-1"], "--seed -1 is out of range: a seed is 0 to 9223372036854775807"),
    (["--schedules", "100000001"], "--schedules 100000001 is too large: explore at most 100000000 per scenario"),
    (["--jobs", "-2"], "--jobs -2 is invalid: use at least one worker process"),
    (["--jobs", "100000"], "--jobs 100000 is too large: use at most 256 worker processes"),
])
def test_faults_option_ranges_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Every out-of-range option value is one sentence and exit 2 (never a false clean)."""
    assert main(["check", "irq-uses-user-slot", "--strategy", "exhaustive", *argv]) == 2
    assert capsys.readouterr().err == f"highmem: {message}\n"


def test_faults_jobs_capped_at_cpus(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """--jobs beyond the CPUs available is capped, with one line, unless --force-jobs."""
    import highmem.sim.parallel as par

    monkeypatch.setattr(par, "available_cpus", lambda: 1)
    assert main(["check", "copy-highpage", "--schedules", "3", "--jobs", "8", "-q"]) == 0
    assert capsys.readouterr().err == ("highmem: --jobs 8 capped at the 1 CPUs available (add --force-jobs to run "
                                       "8 workers)\n")


def test_faults_dask_silent_address_times_out(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """An address that accepts connections and never answers: one sentence within the connect timeout."""
    pytest.importorskip("distributed")
    import highmem.sim.parallel as par

    monkeypatch.setattr(par, "DASK_CONNECT_TIMEOUT", 1.0)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):  # the listening socket is closed when the test ends
            for _ in range(4):
                held.append(srv.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    addr = f"tcp://127.0.0.1:{srv.getsockname()[1]}"
    try:
        assert main(["check", "copy-highpage", "--executor", "dask", "--scheduler", addr]) == 2
    finally:
        srv.close()
    assert capsys.readouterr().err == (f"highmem: the dask scheduler at {addr} did not answer within 1 s: nothing "
                                       "there speaks the dask protocol, or it is overloaded\n")


def test_faults_dask_without_workers(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A scheduler with no workers is waited for a bounded time, then refused with one sentence."""
    distributed = pytest.importorskip("distributed")
    import highmem.sim.parallel as par

    monkeypatch.setattr(par, "DASK_WORKER_WAIT", 1.0)
    with distributed.LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None) as cluster:
        addr = cluster.scheduler_address
        assert main(["check", "copy-highpage", "--executor", "dask", "--scheduler", addr]) == 2
    err = capsys.readouterr().err
    assert err == (f"highmem: the dask scheduler at {addr} has no workers: none joined within 1 s (start some "
                   f"with `dask worker {addr}`)\n")


def test_faults_dask_retry_uses_new_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """On Dask a killed worker's chunk is re-run as a new task (not answered from the cache): exact result."""
    distributed = pytest.importorskip("distributed")
    spec = _flaky(tmp_path, 1)
    base = ["check", spec, "--strategy", "random", "--schedules", "12", "--json"]
    assert main(base) == 0
    serial = json.loads(capsys.readouterr().out)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", processes=True,
                                  dashboard_address=None) as cluster:
        code = main(base + ["--executor", "dask", "--scheduler", cluster.scheduler_address])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out == serial


def test_faults_relative_paths_resolved_for_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A relative scenario path is sent to workers as an absolute one."""
    from highmem.sim.parallel import worker_source

    monkeypatch.chdir(tmp_path)
    assert worker_source("a/b.toml") == str(tmp_path / "a" / "b.toml")
    assert worker_source("s.py:make") == f"{tmp_path / 's.py'}:make"
    assert worker_source("builtin:copy-highpage") == "builtin:copy-highpage"
    assert worker_source("pkg.mod:fn") == "pkg.mod:fn"


def test_faults_doc_mentions_exit_3() -> None:
    """docs/errors.md documents exit status 3 (incomplete)."""
    text = (Path(__file__).parent.parent / "docs" / "errors.md").read_text(encoding="utf-8")
    assert "| 3 | Incomplete" in text
