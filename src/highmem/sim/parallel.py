"""Running schedules on many processes: a local process pool or a dask.distributed cluster.

Schedules are independent: schedule i's strategy is seeded by
``schedule_seed(seed, i)`` and PCT's k is fixed per exploration, so the
explorer can hand out index ranges to workers and record the results in
index order, which makes a parallel exploration identical to a serial one
with the same seed (same counts, same first schedules, same shrunk
schedules).

DPOR (:class:`DporRunner`) hands out subtrees of its search instead of index ranges; the
search consumes their runs in its serial order (:meth:`highmem.sim.dpor.DporSearch.explore`).

A worker rebuilds the scenario from its source (a built-in name, a TOML
file or a Python scenario, resolved to an absolute path before it is sent)
and checks the digest, so it explores exactly what the parent loaded; it
keeps the scenario and its booted machine for its next chunks (:func:`_booted`).

``highmem check`` gives the first attempt of every scenario's chunks to one
:class:`SharedExecutor` and submits them all at the start
(:meth:`ChunkRunner.start`), so the workers never wait for the parent
between scenarios.

A chunk is a state machine: *pending* -> *running* -> *done*, or -> *failed*
when its worker is lost.  A failed chunk is run again on a fresh pool (on
Dask, as a new task: ``pure=False`` gives every submission its own key, so
the scheduler cannot answer from a cached failure); what fails there too is
run once more alone, on a pool of its own, so that it is never blamed for
another chunk's dead worker.  A chunk that still fails is *lost*: its range
is reported in ``unexplored`` with the cause (the signal or exit status of
the worker, or Dask's reason), and the command exits 3 ("incomplete").
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import signal
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from highmem.errors import HighmemError, SimulatorError
from highmem.kernel.config import KernelConfig
from highmem.scenarios.model import Scenario
from highmem.sim.engine import RunResult

__all__ = ["ChunkRunner", "DporRunner", "SharedExecutor", "run_dpor_subtree",
           "load_for_worker", "run_chunk", "process_pool", "dask_executor", "available_cpus",
           "DASK_CONNECT_TIMEOUT", "DASK_WORKER_WAIT", "MAX_JOBS"]

#: Seconds to reach a dask scheduler and complete its handshake.
DASK_CONNECT_TIMEOUT = 10.0
#: Seconds to wait for a first worker to join a dask scheduler that has none.
DASK_WORKER_WAIT = 30.0
#: Seconds without any chunk finishing after which the scheduler's health is checked again.
_POLL = 1.0
#: More worker processes than this are refused even with --force-jobs.
MAX_JOBS = 256

#: Executor factory: the number of workers wanted -> a concurrent.futures-style executor.
MakeExecutor = Callable[[int], Any]


def load_for_worker(source: str) -> Scenario:
    """The scenario named by ``source`` (``builtin:NAME``, a file, or ``module:function``)."""
    from highmem.scenarios import load_builtin, load_scenario_file

    if source.startswith("builtin:"):
        return load_builtin(source[len("builtin:"):])
    return load_scenario_file(source)


def worker_source(source: str) -> str:
    """``source`` as a worker in another directory (or on another host) can load it: file paths
    made absolute, built-ins and ``module:function`` names unchanged."""
    if source.startswith("builtin:"):
        return source
    target, sep, func = source.partition(":")
    if target.endswith((".toml", ".py")):
        return str(Path(target).resolve()) + sep + func
    return source


def _worker_source_of(sc: Scenario) -> str:
    """Where a worker loads ``sc`` from (refused when it has no source, as a built-in in memory)."""
    if not sc.source:
        raise HighmemError(f"scenario {sc.name} has no source a worker could load it from")
    return worker_source(sc.source)


def run_chunk(source: str, digest: str, cfg: KernelConfig, strategy: str, seed: int, depth: int, k: int,
              start: int, stop: int) -> list[tuple[int, RunResult]]:
    """Worker entry point: run schedules ``start..stop-1`` of the scenario at ``source``.

    A result keeps its ``choices`` only where a finding kind first appears in the chunk: the
    explorer keeps the choices of the first schedule of each kind alone, and the others were
    most of what was sent back (1,500 choices a bounce-io schedule, 6 ms to pickle 13 of them).
    """
    from highmem.sim.explore import run_range

    sc, booted = _booted(source, digest, cfg)
    seen: set[str] = set()
    results = run_range(sc, cfg, strategy, seed, depth, k, start, stop, booted=booted)
    for j, (i, res) in enumerate(results):
        kinds = {f.kind for f in res.findings}
        if kinds <= seen:
            results[j] = (i, res._replace(choices=[]))
        seen |= kinds
    return results


#: Scenarios loaded and machines booted (and snapshotted) by this worker process, most recent last.
_BOOTED: dict[tuple[str, str, str], tuple[Scenario, Any]] = {}
#: How many a worker keeps: the chunks of two scenarios interleave where one command's scenarios
#: follow each other, and a few more cost little (a built-in's machine is a few hundred kB).
_BOOTED_KEEP = 4
#: The process that filled _BOOTED.
_BOOTED_PID = [os.getpid()]


def _booted(source: str, digest: str, cfg: KernelConfig) -> tuple[Scenario, Any]:
    """The scenario at ``source`` and its :class:`~highmem.sim.explore.Booted` machine, kept across the
    chunks and subtrees this process runs: loading, booting twice and snapshotting cost more than
    a chunk of a small built-in's schedules, and every schedule starts from the snapshot anyway."""
    from highmem.sim.explore import Booted

    if _BOOTED_PID[0] != os.getpid():
        # Kept by the process this one was forked from: a machine's arrays are anonymous mmaps,
        # shared with that process and with every other worker forked from it, so two workers
        # using it would run their schedules on the same physical memory.
        _BOOTED.clear()
        _BOOTED_PID[0] = os.getpid()
    key = (source, digest, repr(cfg))
    ent = _BOOTED.pop(key, None)
    if ent is None:
        sc = load_for_worker(source)
        if sc.digest != digest:
            raise HighmemError(f"scenario {source} changed while it was being explored (digest {sc.digest}, "
                               f"expected {digest})")
        ent = (sc, Booted(sc, cfg))
        while len(_BOOTED) >= _BOOTED_KEEP:
            del _BOOTED[next(iter(_BOOTED))]
    _BOOTED[key] = ent
    return ent


class SharedExecutor:
    """The executor of the first attempt of every exploration of one command.

    One pool for the whole command instead of one per scenario: a pool's workers start cold (they
    fork, then load, boot and snapshot the scenario), which cost more than all the schedules of a
    small built-in, and a scenario's chunks can be submitted while the parent still collects and
    shrinks the scenario before it.  Retries do not use it (they run on fresh executors); a pool
    that a lost worker broke is replaced at the next :meth:`get`.
    """

    def __init__(self, make_executor: MakeExecutor, workers: int) -> None:
        self.make_executor = make_executor
        self.workers = workers
        self._ex: Any = None

    def get(self) -> Any:
        """The executor, started on first use or after a lost worker broke the last one."""
        if self._ex is not None and getattr(self._ex, "_broken", False):
            _kill(self._ex)
            self._ex = None
        if self._ex is None:
            self._ex = self.make_executor(self.workers)
        return self._ex

    def close(self) -> None:
        """Wait for the workers to finish and stop them."""
        if self._ex is not None:
            _shutdown(self._ex)
            self._ex = None

    def kill(self) -> None:
        """Stop the workers now (Ctrl-C, an error): what is running or queued is abandoned."""
        if self._ex is not None:
            _kill(self._ex)
            self._ex = None


#: Steps of work a chunk holds at least, when the steps of a schedule are known (PCT's k): a
#: task costs about a millisecond on a local pool and several on Dask (sending it, its results
#: back, the scheduler's round trip), the schedules of a small built-in a few microseconds a step.
_CHUNK_MIN_STEPS = 10_000

#: Chunks ahead of explore(): (strategy, seed, depth, k, start, stop), executor, {future: range}.
_Ahead = tuple[tuple[Any, ...], Any, dict[Any, tuple[int, int]]]


class ChunkRunner:
    """A ``runner`` for :func:`highmem.sim.explore.explore` over an executor.

    ``make_executor(workers)`` returns a ``concurrent.futures``-style executor (a
    ProcessPoolExecutor, or ``dask.distributed.Client.get_executor(pure=False)``).
    ``progress(done)`` is called as chunks finish.  After a run, ``unexplored`` holds the lost
    ranges and ``causes`` why each was lost.  A result's ``choices`` are empty unless a finding
    kind first appears in it within its chunk (see :func:`run_chunk`).

    ``shared``: the executor of the first attempt, shared with the command's other explorations
    (else one is made for it).  :meth:`start` submits the chunks before explore() asks for them.
    """

    def __init__(self, sc: Scenario, cfg: KernelConfig, make_executor: MakeExecutor, workers: int,
                 progress: Callable[[int], None] | None = None, retry: bool = True,
                 alive: Callable[[], str | None] | None = None, shared: SharedExecutor | None = None) -> None:
        self.sc = sc
        self.source = _worker_source_of(sc)
        self.cfg = cfg
        self.make_executor = make_executor
        self.workers = workers
        self.progress = progress
        self.retry = retry
        #: None while the cluster is usable, else why it is not (Dask: the scheduler went away).
        self.alive = alive
        self.shared = shared
        self.unexplored: list[tuple[int, int]] = []
        self.causes: dict[tuple[int, int], str] = {}
        #: PCT's k when :meth:`start` calibrated it: explore() uses it instead of calibrating again.
        self.pct_k: int | None = None
        self._ahead: _Ahead | None = None
        self._done = 0

    def _chunks(self, start: int, stop: int, cost: int | None = None) -> list[tuple[int, int]]:
        """``start..stop`` cut in about ``workers * 4`` chunks.

        With ``cost`` (steps a schedule) known, a chunk holds at least :data:`_CHUNK_MIN_STEPS`
        steps (all of a small built-in's 100 schedules are one chunk: the other scenarios of the
        command keep the other workers busy meanwhile), and the last chunks shrink, each at most a
        ``2 * workers``-th of what is left, so that the workers finish together instead of one
        waiting for another's last large chunk (bounce-io runs 9 schedules a second).
        """
        n = stop - start
        size = max(1, -(-n // (self.workers * 4)))
        if cost is None:
            return [(a, min(stop, a + size)) for a in range(start, stop, size)]
        least = max(1, -(-_CHUNK_MIN_STEPS // max(1, cost)))
        chunks = []
        a = start
        while a < stop:
            b = min(stop, a + max(least, min(size, -(-(stop - a) // (2 * self.workers)))))
            chunks.append((a, b))
            a = b
        return chunks

    def _submit(self, ex: Any, chunks: list[tuple[int, int]], args: tuple[Any, ...]
                ) -> dict[Any, tuple[int, int]]:
        futs: dict[Any, tuple[int, int]] = {}
        for a, b in chunks:
            try:
                fut = ex.submit(run_chunk, self.source, self.sc.digest, self.cfg, *args, a, b)
            except Exception as e:
                if not _is_lost_worker(e):
                    raise
                # The pool broke under an earlier chunk: this one fails as the pool's running ones do.
                fut = cf.Future()
                fut.set_exception(e)
            futs[fut] = (a, b)
        return futs

    def _first(self, chunks: list[tuple[int, int]], args: tuple[Any, ...]) -> tuple[Any, dict[Any, tuple[int, int]]]:
        ex = self.shared.get() if self.shared is not None else self.make_executor(self.workers)
        try:
            return ex, self._submit(ex, chunks, args)
        except BaseException:
            self._abandon(ex)
            raise

    def start(self, strategy: str, seed: int, depth: int, k: int, start: int, stop: int) -> None:
        """Submit the first attempt of ``start..stop`` now; the explore() call with the same
        arguments collects it (``k``, PCT's, is then :attr:`pct_k`)."""
        self._cancel_ahead()
        args = (strategy, seed, depth, k)
        ex, futs = self._first(self._chunks(start, stop, k if strategy == "pct" else None), args)
        self._ahead = ((*args, start, stop), ex, futs)
        self.pct_k = k if strategy == "pct" else None

    def _cancel_ahead(self) -> None:
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            for fut in ahead[2]:
                fut.cancel()

    def _abandon(self, ex: Any) -> None:
        # Ctrl-C, a user error or a dead scheduler: stop every worker now, wait for none.
        if self.shared is not None and ex is self.shared._ex:
            self.shared.kill()
        else:
            _kill(ex)

    def _run(self, chunks: list[tuple[int, int]], workers: int, args: tuple[Any, ...]
             ) -> tuple[dict[tuple[int, int], list[tuple[int, RunResult]]], dict[tuple[int, int], str]]:
        """One attempt of ``chunks`` on a fresh executor: (results, {failed chunk: cause})."""
        ex = self.make_executor(workers)
        try:
            futs = self._submit(ex, chunks, args)
        except BaseException:
            _kill(ex)
            raise
        return self._collect(ex, futs, own=True)

    def _collect(self, ex: Any, futs: dict[Any, tuple[int, int]], own: bool
                 ) -> tuple[dict[tuple[int, int], list[tuple[int, RunResult]]], dict[tuple[int, int], str]]:
        """Wait for ``futs`` (submitted to ``ex``): (results, {failed chunk: cause}).  ``own``:
        ``ex`` is this attempt's alone, shut down at the end."""
        done: dict[tuple[int, int], list[tuple[int, RunResult]]] = {}
        failed: dict[tuple[int, int], str] = {}
        try:
            pending = set(futs)
            while pending:
                finished, pending = cf.wait(pending, timeout=_POLL, return_when=cf.FIRST_COMPLETED)
                if not finished:
                    self._check_alive()
                    continue
                for fut in finished:
                    rng = futs[fut]
                    try:
                        done[rng] = fut.result()
                    except Exception as e:
                        if _is_user_error(e):
                            raise
                        if not _is_lost_worker(e):
                            raise SimulatorError(f"schedules {rng[0]} to {rng[1] - 1} failed in a worker: "
                                                 f"{type(e).__name__}: {e}") from e
                        self._check_alive()
                        failed[rng] = _cause(ex, e)
                        continue
                    self._done += rng[1] - rng[0]
                    if self.progress is not None:
                        self.progress(self._done)
        except BaseException:
            self._abandon(ex)
            raise
        if own:
            _shutdown(ex)
        return done, failed

    def _check_alive(self) -> None:
        why = self.alive() if self.alive is not None else None
        if why is not None:
            raise HighmemError(why)

    def __call__(self, strategy: str, seed: int, depth: int, k: int, start: int, stop: int
                 ) -> Iterator[tuple[int, RunResult]]:
        args = (strategy, seed, depth, k)
        self._done = 0
        ahead = self._ahead
        if ahead is not None and ahead[0] == (*args, start, stop):
            self._ahead = None
            ex, futs = ahead[1], ahead[2]
        else:
            self._cancel_ahead()
            ex, futs = self._first(self._chunks(start, stop, k if strategy == "pct" else None), args)
        done, failed = self._collect(ex, futs, own=self.shared is None)
        if failed and self.retry:
            # A lost worker breaks its whole pool: every chunk it held fails with it, so all run again.
            again, failed = self._run(sorted(failed), self.workers, args)
            done.update(again)
        if failed and self.retry:
            # Still failing: each alone, so a chunk is lost only when its own worker dies.
            alone: dict[tuple[int, int], str] = {}
            for rng in sorted(failed):
                again, lost = self._run([rng], 1, args)
                done.update(again)
                alone.update(lost)
            failed = alone
        self.unexplored = sorted(failed)
        self.causes = dict(failed)
        for rng in sorted(done):
            yield from done[rng]


def run_dpor_subtree(source: str, digest: str, cfg: KernelConfig, handout: Any) -> list[Any]:
    """Worker entry point: explore one DPOR subtree (:class:`highmem.sim.dpor.Handout`) of the
    scenario at ``source``; the machine is booted once per process and restored for every run."""
    from highmem.sim.explore import run_once

    sc, booted = _booted(source, digest, cfg)
    return list(handout.explore(lambda strat, rec: run_once(sc, cfg, strat, booted=booted, footprints=rec)[0]))


class DporRunner:
    """Hands DPOR subtrees to an executor (``make_executor(workers)``, as :class:`ChunkRunner`'s).

    ``submit(handout)`` returns a future of the subtree's records; the search consumes them in the
    serial order, so the exploration is the serial one.  A subtree whose worker is lost is
    explored again by the search itself (it is deterministic): nothing is left unexplored.
    """

    def __init__(self, sc: Scenario, cfg: KernelConfig, make_executor: MakeExecutor, workers: int) -> None:
        self.sc = sc
        self.source = _worker_source_of(sc)
        self.cfg = cfg
        self.make_executor = make_executor
        self.workers = workers
        self._ex: Any = None
        self.unexplored: list[tuple[int, int]] = []
        self.causes: dict[tuple[int, int], str] = {}

    def submit(self, handout: Any) -> Any:
        if self._ex is None:
            self._ex = self.make_executor(self.workers)
        return self._ex.submit(run_dpor_subtree, self.source, self.sc.digest, self.cfg, handout)

    def close(self) -> None:
        """Stop the workers (what is still running is not waited for)."""
        if self._ex is not None:
            _kill(self._ex)
            self._ex = None


def _is_user_error(e: BaseException) -> bool:
    return isinstance(e, HighmemError) or type(e).__name__ == "HighmemError"


def _is_lost_worker(e: BaseException) -> bool:
    """A worker process or its connection died (as opposed to an error in the work itself)."""
    return (isinstance(e, (BrokenProcessPool, cf.CancelledError, ConnectionError, EOFError))
            or type(e).__name__ in ("KilledWorker", "CommClosedError", "FutureCancelledError"))


def _cause(ex: Any, e: BaseException) -> str:
    """Why a chunk's worker was lost, in the words of the OS (signal, exit status) or of Dask."""
    procs = getattr(ex, "_processes", None) or {}
    for _pid, p in sorted(procs.items()):
        if p.exitcode is None:
            p.join(2.0)  # the pool noticed the death before the OS reported its status
    for pid, p in sorted(procs.items()):
        code = p.exitcode
        if code is None or code == -signal.SIGTERM:
            continue  # still running, or stopped by the pool itself after the first death
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"worker process {pid} was killed by {name}"
        return f"worker process {pid} exited with status {code}"
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _shutdown(ex: Any) -> None:
    shutdown = getattr(ex, "shutdown", None)
    if shutdown is not None:
        try:
            shutdown(wait=True)
        except Exception:  # pragma: no cover - a dead pool may refuse; nothing is left to wait for
            pass


def _kill(ex: Any) -> None:
    """Stop an executor at once: terminate worker processes, cancel what has not started."""
    # shutdown() forgets the processes, so take them first.
    procs = list((getattr(ex, "_processes", None) or {}).values())
    for p in procs:
        try:
            p.terminate()
        except Exception:  # pragma: no cover - already gone
            pass
    try:
        ex.shutdown(wait=False, cancel_futures=True)
    except Exception:  # pragma: no cover - a broken pool may refuse
        pass
    for p in procs:
        try:
            p.join(1.0)
            if p.is_alive():
                p.kill()
        except Exception:  # pragma: no cover - already gone
            pass


def _ignore_sigint() -> None:
    # Ctrl-C goes to the whole process group: the parent handles it and stops the workers, so a
    # worker must not print its own KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def process_pool(jobs: int) -> MakeExecutor:
    """An executor factory for at most ``jobs`` local worker processes."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    return lambda n: cf.ProcessPoolExecutor(max_workers=min(jobs, n), mp_context=ctx, initializer=_ignore_sigint)


def dask_executor(address: str, timeout: float | None = None, wait: float | None = None
                  ) -> tuple[MakeExecutor, int, Any]:
    """(executor factory, worker count, client) for the dask scheduler at ``address``.

    Connecting (and the scheduler's handshake) is bounded by ``timeout`` seconds (default
    :data:`DASK_CONNECT_TIMEOUT`); a scheduler without workers is waited for ``wait`` seconds
    (default :data:`DASK_WORKER_WAIT`), then refused with one sentence.
    """
    timeout = DASK_CONNECT_TIMEOUT if timeout is None else timeout
    wait = DASK_WORKER_WAIT if wait is None else wait
    try:
        from distributed import Client
    except ImportError:
        raise HighmemError("--executor dask needs dask.distributed: pip install 'highmem[dask]'") from None
    _probe(address, timeout)
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise HighmemError(f"cannot reach the dask scheduler at {address}: {e}") from None
    except Exception as e:
        raise HighmemError(f"cannot use the dask scheduler at {address}: {type(e).__name__}: {e}") from None
    try:
        try:
            client.wait_for_workers(1, timeout=wait)
        except TimeoutError:
            raise HighmemError(f"the dask scheduler at {address} has no workers: none joined within {wait:g} s "
                               "(start some with `dask worker " + address + "`)") from None
        except Exception as e:
            raise HighmemError(f"cannot use the dask scheduler at {address}: {type(e).__name__}: {e}") from None
        workers = max(1, len(client.scheduler_info().get("workers", {})))
    except BaseException:
        _close_client(client)
        raise
    return (lambda n: client.get_executor(pure=False)), workers, client


def _probe(address: str, timeout: float) -> None:
    """Ask the scheduler at ``address`` who it is, every step bounded by ``timeout`` seconds.

    ``Client(timeout=...)`` bounds the TCP connect but not the handshake after it, so an address
    that accepts connections and never answers would hang the client for ever.
    """
    import asyncio

    async def identity() -> Any:
        from distributed.comm import connect

        comm = await asyncio.wait_for(connect(address, timeout=timeout), timeout + 1)
        try:
            await asyncio.wait_for(comm.write({"op": "identity", "reply": True}), timeout)
            return await asyncio.wait_for(comm.read(), timeout)
        finally:
            comm.abort()

    try:
        reply = asyncio.run(identity())
    except TimeoutError:
        raise HighmemError(f"the dask scheduler at {address} did not answer within {timeout:g} s: nothing there "
                           "speaks the dask protocol, or it is overloaded") from None
    except (OSError, EOFError) as e:
        raise HighmemError(f"cannot reach the dask scheduler at {address}: {e}") from None
    except Exception as e:
        raise HighmemError(f"cannot use the dask scheduler at {address}: {type(e).__name__}: {e}") from None
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        raise HighmemError(f"{address} answered, but not as a dask scheduler")


def dask_alive(client: Any, address: str) -> Callable[[], str | None]:
    """A health check for :class:`ChunkRunner`: None while ``client`` is connected."""
    def alive() -> str | None:
        status = getattr(client, "status", "running")
        if status in ("running", "connecting"):
            return None
        return (f"the dask scheduler at {address} went away during the run (client {status}): the exploration "
                "was not finished")
    return alive


def _close_client(client: Any) -> None:
    try:
        client.close(timeout=2)
    except Exception:  # pragma: no cover - a dead scheduler may refuse
        pass
