"""One executor for a whole command, chunks submitted ahead, machines kept by workers: still the serial result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import highmem.sim.parallel as parallel
from highmem.cli import main
from highmem.errors import HighmemError
from highmem.scenarios import resolve
from highmem.sim.explore import explore, pct_k
from highmem.sim.parallel import ChunkRunner, SharedExecutor, process_pool
from test_parallel_faults import _flaky


def _digest(ex) -> dict:
    d = ex.to_dict()
    d["shrunk"] = {k: list(r.choices) for k, r in ex.by_kind.items()}
    return d


@pytest.mark.parametrize("n, workers, cost", [
    (100, 2, 16_000), (100, 2, 88), (10_000, 2, 88), (12, 2, 16_000), (7, 3, 50_000), (1, 2, 1), (8, 2, None),
    (200, 2, None), (5, 4, 1),
])
def test_pipeline_chunks_cover_the_range_once(n: int, workers: int, cost: int | None) -> None:
    """Whatever the cost, the chunks are contiguous, non-empty and cover start..stop exactly once."""
    sc = resolve("copy-highpage")
    runner = ChunkRunner(sc, sc.config(), process_pool(workers), workers)
    chunks = runner._chunks(10, 10 + n, cost)
    assert chunks[0][0] == 10 and chunks[-1][1] == 10 + n
    assert all(a < b for a, b in chunks)
    assert all(b == a2 for (_, b), (a2, _) in zip(chunks, chunks[1:], strict=False))


def test_pipeline_chunks_by_cost() -> None:
    """An expensive scenario's last chunks shrink to single schedules; a cheap one's 100 are one chunk;
    without a known cost the chunks are the even ones (workers * 4)."""
    sc = resolve("copy-highpage")
    runner = ChunkRunner(sc, sc.config(), process_pool(2), 2)
    costly = runner._chunks(0, 100, 16_000)
    sizes = [b - a for a, b in costly]
    assert max(sizes) == 13 and sizes[-1] == 1
    assert sizes == sorted(sizes, reverse=True)
    assert runner._chunks(0, 100, 88) == [(0, 100)]
    assert len(runner._chunks(0, 10_000, 88)) > 8
    assert runner._chunks(0, 8, None) == [(a, a + 1) for a in range(8)]


def test_pipeline_started_chunks_match_serial() -> None:
    """Chunks submitted ahead on a shared executor (k calibrated ahead) give the serial exploration,
    for two scenarios in turn on the same workers."""
    shared = SharedExecutor(process_pool(2), 2)
    try:
        for name, n in (("bounce-read-wrong-slot", 150), ("irq-uses-user-slot", 90)):
            sc = resolve(name)
            cfg = sc.config()
            serial = explore(sc, cfg, strategy="pct", schedules=n, seed=4)
            runner = ChunkRunner(sc, cfg, process_pool(2), 2, shared=shared)
            runner.start("pct", 4, 2, pct_k(sc, cfg), 0, n)
            assert runner.pct_k == pct_k(sc, cfg)
            par = explore(sc, cfg, strategy="pct", schedules=n, seed=4, runner=runner)
            assert serial.counts and _digest(par) == _digest(serial)
    finally:
        shared.close()


def test_pipeline_started_with_other_arguments_is_redone() -> None:
    """explore() asking for other schedules than were started gets them (the started ones are dropped)."""
    sc = resolve("sleep-holding-kmap")
    cfg = sc.config()
    shared = SharedExecutor(process_pool(2), 2)
    try:
        runner = ChunkRunner(sc, cfg, process_pool(2), 2, shared=shared)
        runner.start("random", 1, 2, 0, 0, 30)
        par = explore(sc, cfg, strategy="random", schedules=40, seed=9, runner=runner)
    finally:
        shared.close()
    assert _digest(par) == _digest(explore(sc, cfg, strategy="random", schedules=40, seed=9))


def test_pipeline_many_chunks_of_a_costly_scenario_match_serial(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of one schedule each (the shrinking tail at its end) still give the serial exploration."""
    monkeypatch.setattr(parallel, "_CHUNK_MIN_STEPS", 1)
    sc = resolve("kmap-high-ipi-deadlock-2024")
    cfg = sc.config()
    runner = ChunkRunner(sc, cfg, process_pool(2), 2)
    assert len(runner._chunks(0, 50, pct_k(sc, cfg))) > 8
    par = explore(sc, cfg, strategy="pct", schedules=50, seed=2, runner=runner)
    assert _digest(par) == _digest(explore(sc, cfg, strategy="pct", schedules=50, seed=2))


@pytest.mark.parametrize("extra", [
    ["--schedules", "12"],
    ["--strategy", "random", "--schedules", "30", "--seed", "3"],
    ["--strategy", "exhaustive", "--schedules", "40"],
    ["--strategy", "dpor", "--schedules", "40"],
])
def test_pipeline_cli_several_scenarios_identical(extra: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Several scenarios (an expensive one first) on one pool: --jobs 2 prints what --jobs 1 prints."""
    args = ["check", "bounce-io", "irq-uses-user-slot", "kmap-in-irq", "sleep-holding-kmap", "--json"] + extra
    if "--strategy" in extra and extra[1] in ("exhaustive", "dpor"):
        args.remove("bounce-io")
    assert main(args + ["--jobs", "1"]) == 1
    one = capsys.readouterr().out
    assert main(args + ["--jobs", "2"]) == 1
    assert capsys.readouterr().out == one


def test_pipeline_lost_worker_breaks_shared_pool_later_scenarios_exact(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A worker dying in the first scenario breaks the shared pool under the later scenarios' chunks
    too: they run again on a fresh pool, and the whole command equals the serial one."""
    spec = _flaky(tmp_path, 1)
    base = ["check", spec, "sleep-holding-kmap", "kmap-in-irq", "--strategy", "random", "--schedules", "40",
            "--json"]
    main(base + ["--jobs", "2", "--force-jobs"])
    par = json.loads(capsys.readouterr().out)
    assert (tmp_path / "deaths").read_text() == "1"
    main(base)
    assert par == json.loads(capsys.readouterr().out)
    assert par["lost_schedules"] == 0 and par["incomplete"] is False


def test_pipeline_worker_keeps_booted_machines(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker loads and boots a scenario once for all its chunks, keeps a few, and still refuses one
    whose digest changed."""
    monkeypatch.setattr(parallel, "_BOOTED", {})
    sc = resolve("copy-highpage")
    cfg = sc.config()
    first = parallel._booted("builtin:copy-highpage", sc.digest, cfg)
    assert parallel._booted("builtin:copy-highpage", sc.digest, cfg) is first
    names = ["kmap-in-irq", "irq-uses-user-slot", "sleep-holding-kmap", "kmap-local-wrong-order"]
    for name in names:
        other = resolve(name)
        parallel._booted(f"builtin:{name}", other.digest, other.config())
    assert len(parallel._BOOTED) == parallel._BOOTED_KEEP
    assert parallel._booted("builtin:copy-highpage", sc.digest, cfg) is not first
    with pytest.raises(HighmemError, match="changed while it was being explored"):
        parallel._booted("builtin:kmap-in-irq", "0" * 16, cfg)


def test_pipeline_submit_refused_by_a_broken_pool_is_retried() -> None:
    """A shared pool that refuses the submission (a worker of it died under another scenario): the
    chunks count as failed on the first attempt and run again on a fresh pool."""
    from concurrent.futures.process import BrokenProcessPool

    class Broken:
        def submit(self, *args: object) -> None:
            raise BrokenProcessPool("a child process terminated abruptly")

        def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
            pass

    sc = resolve("kmap-in-irq")
    cfg = sc.config()
    shared = SharedExecutor(lambda n: Broken(), 2)
    runner = ChunkRunner(sc, cfg, process_pool(2), 2, shared=shared)
    par = explore(sc, cfg, strategy="random", schedules=20, seed=5, runner=runner)
    assert runner.unexplored == []
    assert _digest(par) == _digest(explore(sc, cfg, strategy="random", schedules=20, seed=5))


def test_pipeline_chunk_results_keep_choices_where_a_kind_first_appears() -> None:
    """A worker sends back the choices of the first schedule of each finding kind in its chunk alone;
    unshrunk, the first schedules' choices are still the serial ones."""
    sc = resolve("bounce-read-wrong-slot")
    cfg = sc.config()
    out = parallel.run_chunk("builtin:bounce-read-wrong-slot", sc.digest, cfg, "pct", 0, 2, pct_k(sc, cfg), 0, 40)
    seen: set[str] = set()
    for _i, res in out:
        kinds = {f.kind for f in res.findings}
        assert bool(res.choices) == bool(kinds - seen)
        seen |= kinds
    assert seen == {"stale-access", "data-mismatch"}
    serial = explore(sc, cfg, strategy="random", schedules=90, seed=0, do_shrink=False)
    par = explore(sc, cfg, strategy="random", schedules=90, seed=0, do_shrink=False,
                  runner=ChunkRunner(sc, cfg, process_pool(2), 2))
    assert serial.counts
    assert _digest(par) == _digest(serial)
    assert {k: r.original_choices for k, r in par.by_kind.items()} == \
        {k: r.original_choices for k, r in serial.by_kind.items()}


def _boots_of_kept(source: str, digest: str, cfg: object) -> int:
    return int(parallel._booted(source, digest, cfg)[1].boots)  # type: ignore[arg-type]


def test_pipeline_forked_worker_boots_its_own_machine() -> None:
    """A worker forked after this process booted a scenario does not use that machine (its memory is
    an anonymous mmap shared with this process and the other workers): it boots its own."""
    sc = resolve("bounce-read-wrong-slot")
    cfg = sc.config()
    parallel.run_chunk("builtin:bounce-read-wrong-slot", sc.digest, cfg, "pct", 0, 2, pct_k(sc, cfg), 0, 5)
    assert _boots_of_kept("builtin:bounce-read-wrong-slot", sc.digest, cfg) == 2
    with process_pool(1)(1) as ex:
        assert ex.submit(_boots_of_kept, "builtin:bounce-read-wrong-slot", sc.digest, cfg).result() == 0
