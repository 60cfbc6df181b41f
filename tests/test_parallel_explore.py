"""Exploration on a process pool and on a dask cluster gives exactly the serial result."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from highmem.cli import main
from highmem.scenarios import resolve
from highmem.sim.explore import explore
from highmem.sim.parallel import ChunkRunner, process_pool


def _digest(ex) -> dict:
    d = ex.to_dict()
    d["shrunk"] = {k: list(r.choices) for k, r in ex.by_kind.items()}
    return d


def test_parallel_process_pool_matches_serial() -> None:
    """--jobs 2 splits schedules by index and merges in seed order: the exploration is identical."""
    sc = resolve("irq-uses-user-slot")
    cfg = sc.config()
    serial = explore(sc, cfg, strategy="pct", schedules=120, seed=3)
    runner = ChunkRunner(sc, cfg, process_pool(2), 2)
    par = explore(sc, cfg, strategy="pct", schedules=120, seed=3, runner=runner)
    assert serial.counts, "the scenario must find something for the comparison to mean anything"
    assert _digest(par) == _digest(serial)
    assert runner.unexplored == []


def test_parallel_random_strategy_matches_serial() -> None:
    """The random walk seeds schedule i from (seed, i) alone, so any split gives the same schedules."""
    sc = resolve("sleep-holding-kmap")
    cfg = sc.config()
    serial = explore(sc, cfg, strategy="random", schedules=40, seed=11)
    par = explore(sc, cfg, strategy="random", schedules=40, seed=11,
                  runner=ChunkRunner(sc, cfg, process_pool(3), 3))
    assert _digest(par) == _digest(serial)


def test_parallel_cli_jobs_output_identical(capsys: pytest.CaptureFixture[str]) -> None:
    """`highmem check --jobs 2 --json` prints byte for byte what --jobs 1 prints."""
    args = ["check", "irq-uses-user-slot", "bounce-read-wrong-slot", "--json", "--schedules", "60", "--seed", "5"]
    assert main(args + ["--jobs", "1"]) == 1
    one = capsys.readouterr().out
    assert main(args + ["--jobs", "2"]) == 1
    two = capsys.readouterr().out
    assert one == two
    assert json.loads(one)["schedules"] == 120


def test_parallel_dask_local_cluster_matches_serial() -> None:
    """A dask LocalCluster on loopback, through Client.get_executor(), finds exactly what a serial run finds."""
    distributed = pytest.importorskip("distributed")
    from highmem.sim.parallel import dask_executor

    sc = resolve("irq-uses-user-slot")
    cfg = sc.config()
    serial = explore(sc, cfg, strategy="pct", schedules=60, seed=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", processes=True,
                                  dashboard_address=None) as cluster:
        make, workers, client = dask_executor(cluster.scheduler_address)
        try:
            assert workers == 2
            par = explore(sc, cfg, strategy="pct", schedules=60, seed=1,
                          runner=ChunkRunner(sc, cfg, make, workers))
        finally:
            client.close()
    assert _digest(par) == _digest(serial)


@pytest.mark.parametrize("argv, message", [
    (["check", "copy-highpage", "--jobs", "0"], "highmem: --jobs 0 is invalid: use at least one worker process\n"),
    (["check", "copy-highpage", "--executor", "ray"],
     "highmem: executor 'ray' does not exist: choose process or dask\n"),
    (["check", "copy-highpage", "--executor", "dask"],
     "highmem: --executor dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786)\n"),
    (["check", "copy-highpage", "--scheduler", "tcp://127.0.0.1:8786"],
     "highmem: --scheduler applies only to --executor dask\n"),
])
def test_parallel_bad_options_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Bad parallel options are one sentence on stderr and exit status 2."""
    assert main(argv) == 2
    assert capsys.readouterr().err == message


def test_parallel_unreachable_scheduler_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An address where no dask scheduler listens is one sentence naming it, exit 2."""
    pytest.importorskip("distributed")
    assert main(["check", "copy-highpage", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("highmem: cannot reach the dask scheduler at tcp://127.0.0.1:9: ")
    assert err.count("\n") == 1


def test_parallel_dead_worker_reports_unexplored_seeds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A worker that dies on some schedules: they are retried, then named exactly as unexplored; exit 3."""
    scen = tmp_path / "dies.py"
    scen.write_text(textwrap.dedent('''
        import multiprocessing, os
        from highmem.scenarios.model import ContextSpec, PageSpec, Scenario

        def body(k, pages):
            v = k.kmap_atomic(pages["A"], "KM_USER0")
            k.load(v, 1)
            k.kunmap_atomic(v, "KM_USER0")
            # Only a pool worker dies; schedule 7's random walk is the one that triggers it.
            if multiprocessing.parent_process() is not None and k.engine.strategy.rng.random() < 0.02:
                os._exit(3)

        def scenario():
            return Scenario("dies", machine={"cpus": 1, "nr_cpus": 1, "config": {"SMP": "n"}},
                            pages=[PageSpec("A")],
                            contexts=[ContextSpec("task", "t", 0, fn=body)])
    '''))
    code = main(["check", f"{scen}:scenario", "--strategy", "random", "--schedules", "200", "--jobs", "2",
                 "--force-jobs", "--json"])
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    lost = out["unexplored"]
    assert lost, "some chunk should have lost its worker"
    for a, b in lost:
        assert f"schedules {a} to {b - 1} (seed 0) were not explored" in captured.err
    assert out["schedules"] == 200 - sum(b - a for a, b in lost)
    assert out["lost_schedules"] == sum(b - a for a, b in lost) and out["incomplete"] is True
    assert code == 3


def test_parallel_dpor_subtrees_match_serial() -> None:
    """DPOR with subtrees handed to a process pool runs the serial exploration, schedule for schedule."""
    from highmem.sim.parallel import DporRunner

    for name in ("kmap-high-ipi-deadlock-2024", "irq-uses-user-slot"):
        sc = resolve(name)
        cfg = sc.config()
        serial = explore(sc, cfg, strategy="dpor", schedules=2000)
        par = explore(sc, cfg, strategy="dpor", schedules=2000, runner=DporRunner(sc, cfg, process_pool(2), 2))
        assert serial.exhausted and serial.counts
        assert _digest(par) == _digest(serial)


def test_parallel_dpor_cut_by_the_limit_matches_serial() -> None:
    """Where the limit ends a DPOR exploration inside a handed-out subtree, it ends at the serial schedule."""
    from highmem.sim.parallel import DporRunner

    sc = resolve("copy-highpage-smp-storm")
    cfg = sc.config()
    for limit in (1, 37, 200):
        serial = explore(sc, cfg, strategy="dpor", schedules=limit, do_shrink=False)
        par = explore(sc, cfg, strategy="dpor", schedules=limit, do_shrink=False,
                      runner=DporRunner(sc, cfg, process_pool(2), 2))
        assert not serial.exhausted and serial.schedules == limit
        assert _digest(par) == _digest(serial)


def test_parallel_dpor_lost_worker_subtree_explored_here() -> None:
    """A subtree whose worker fails is explored by the search itself: the result is still the serial one."""
    from concurrent.futures import Future

    sc = resolve("kmap-high-ipi-deadlock-2024")
    cfg = sc.config()

    class Lost:
        workers = 2

        def submit(self, handout: object) -> Future:
            f: Future = Future()
            f.set_exception(ConnectionError("worker lost"))
            return f

        def close(self) -> None:
            pass

    serial = explore(sc, cfg, strategy="dpor", schedules=500)
    par = explore(sc, cfg, strategy="dpor", schedules=500, runner=Lost())
    assert _digest(par) == _digest(serial)


def test_parallel_dpor_cli_jobs_output_identical(capsys: pytest.CaptureFixture[str]) -> None:
    """`highmem check --strategy dpor --jobs 2 --json` prints byte for byte what --jobs 1 prints."""
    args = ["check", "kmap-high-ipi-deadlock-2024", "km-irq-collision-2005", "--strategy", "dpor", "--json",
            "--schedules", "3000"]
    assert main(args + ["--jobs", "1"]) == 1
    one = capsys.readouterr().out
    assert main(args + ["--jobs", "2"]) == 1
    two = capsys.readouterr().out
    assert one == two
    assert all(d["exhausted"] for d in json.loads(one)["runs"])


def test_parallel_dpor_dask_local_cluster_matches_serial() -> None:
    """DPOR subtrees on a dask LocalCluster give exactly the serial exploration."""
    distributed = pytest.importorskip("distributed")
    from highmem.sim.parallel import DporRunner, dask_executor

    sc = resolve("kmap-high-ipi-deadlock-2024")
    cfg = sc.config()
    serial = explore(sc, cfg, strategy="dpor", schedules=2000)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", processes=True,
                                  dashboard_address=None) as cluster:
        make, workers, client = dask_executor(cluster.scheduler_address)
        try:
            par = explore(sc, cfg, strategy="dpor", schedules=2000, runner=DporRunner(sc, cfg, make, workers))
        finally:
            client.close()
    assert _digest(par) == _digest(serial)
