"""Running schedules on many processes: a local process pool or a dask.distributed cluster.

Schedules are independent: schedule i's strategy is seeded by
``schedule_seed(seed, i)`` and PCT's k is fixed per exploration, so the
explorer can hand out index ranges to workers and record the results in
index order, which makes a parallel exploration identical to a serial one
with the same seed (same counts, same first schedules, same shrunk
schedules).

A worker rebuilds the scenario from its source (a built-in name, a TOML
file or a Python scenario) and checks the digest, so it explores exactly
what the parent loaded.  A chunk whose worker dies is retried once on a
fresh pool; what still fails is reported as ``unexplored`` ranges.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from highmem.errors import HighmemError, SimulatorError
from highmem.kernel.config import KernelConfig
from highmem.scenarios.model import Scenario
from highmem.sim.engine import RunResult

__all__ = ["ChunkRunner", "load_for_worker", "run_chunk"]


def load_for_worker(source: str) -> Scenario:
    """The scenario named by ``source`` (``builtin:NAME``, a file, or ``module:function``)."""
    from highmem.scenarios import load_builtin, load_scenario_file

    if source.startswith("builtin:"):
        return load_builtin(source[len("builtin:"):])
    return load_scenario_file(source)


def run_chunk(source: str, digest: str, cfg: KernelConfig, strategy: str, seed: int, depth: int, k: int,
              start: int, stop: int) -> list[tuple[int, RunResult]]:
    """Worker entry point: run schedules ``start..stop-1`` of the scenario at ``source``."""
    from highmem.sim.explore import run_range

    sc = load_for_worker(source)
    if sc.digest != digest:
        raise HighmemError(f"scenario {source} changed while it was being explored (digest {sc.digest}, "
                           f"expected {digest})")
    return run_range(sc, cfg, strategy, seed, depth, k, start, stop)


class ChunkRunner:
    """A ``runner`` for :func:`highmem.sim.explore.explore` over an executor.

    ``make_executor()`` returns a ``concurrent.futures``-style executor (a
    ProcessPoolExecutor, or ``dask.distributed.Client.get_executor()``).
    ``progress(done, total)`` is called as chunks finish.
    """

    def __init__(self, sc: Scenario, cfg: KernelConfig, make_executor: Callable[[], Any], workers: int,
                 progress: Callable[[int], None] | None = None, retry: bool = True) -> None:
        if not sc.source:
            raise HighmemError(f"scenario {sc.name} has no source a worker could load it from")
        self.sc = sc
        self.cfg = cfg
        self.make_executor = make_executor
        self.workers = workers
        self.progress = progress
        self.retry = retry
        self.unexplored: list[tuple[int, int]] = []

    def _chunks(self, start: int, stop: int) -> list[tuple[int, int]]:
        n = stop - start
        size = max(1, -(-n // (self.workers * 4)))
        return [(a, min(stop, a + size)) for a in range(start, stop, size)]

    def _run(self, ex: Any, chunks: list[tuple[int, int]], args: tuple[Any, ...]
             ) -> tuple[dict[tuple[int, int], list[tuple[int, RunResult]]], list[tuple[int, int]]]:
        futs = {ex.submit(run_chunk, self.sc.source, self.sc.digest, self.cfg, *args, a, b): (a, b)
                for a, b in chunks}
        done: dict[tuple[int, int], list[tuple[int, RunResult]]] = {}
        failed: list[tuple[int, int]] = []
        for fut in cf.as_completed(futs):
            rng = futs[fut]
            try:
                done[rng] = fut.result()
            except Exception as e:
                if _is_user_error(e):
                    raise
                if not _is_lost_worker(e):
                    raise SimulatorError(f"schedules {rng[0]} to {rng[1] - 1} failed in a worker: "
                                         f"{type(e).__name__}: {e}") from e
                failed.append(rng)
                continue
            if self.progress is not None:
                self.progress(sum(b - a for a, b in done))
        return done, sorted(failed)

    def __call__(self, strategy: str, seed: int, depth: int, k: int, start: int, stop: int
                 ) -> Iterator[tuple[int, RunResult]]:
        args = (strategy, seed, depth, k)
        chunks = self._chunks(start, stop)
        ex = self.make_executor()
        try:
            done, failed = self._run(ex, chunks, args)
        finally:
            _shutdown(ex)
        if failed and self.retry:
            ex = self.make_executor()
            try:
                again, failed = self._run(ex, failed, args)
            finally:
                _shutdown(ex)
            done.update(again)
        self.unexplored = failed
        for rng in sorted(done):
            yield from done[rng]


def _is_user_error(e: BaseException) -> bool:
    return isinstance(e, HighmemError) or type(e).__name__ == "HighmemError"


def _is_lost_worker(e: BaseException) -> bool:
    """A worker process or its connection died (as opposed to an error in the work itself)."""
    return (isinstance(e, (BrokenProcessPool, cf.CancelledError, ConnectionError, EOFError))
            or type(e).__name__ in ("KilledWorker", "CommClosedError", "FutureCancelledError"))


def _shutdown(ex: Any) -> None:
    shutdown = getattr(ex, "shutdown", None)
    if shutdown is not None:
        try:
            shutdown(wait=True)
        except Exception:  # pragma: no cover - a dead pool may refuse; nothing is left to wait for
            pass


def process_pool(jobs: int) -> Callable[[], Any]:
    """An executor factory for ``jobs`` local worker processes."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    return lambda: cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx)


def dask_executor(address: str, timeout: float = 10.0) -> tuple[Callable[[], Any], int, Any]:
    """(executor factory, worker count, client) for the dask scheduler at ``address``."""
    try:
        from distributed import Client
    except ImportError:
        raise HighmemError("--executor dask needs dask.distributed: pip install 'highmem[dask]'") from None
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise HighmemError(f"cannot reach the dask scheduler at {address}: {e}") from None
    except Exception as e:
        raise HighmemError(f"cannot use the dask scheduler at {address}: {type(e).__name__}: {e}") from None
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    return client.get_executor, workers, client
