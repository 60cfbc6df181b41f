"""The scan of a set of paths: find the C files, parse the ones that mention the mapping API,
summarise their static helpers, analyse their functions, apply suppressions.

Files are independent, so ``jobs > 1`` hands them to worker processes in order and the result
is the same as with one job.  Nothing here prints; a ``progress`` callback sees each file done.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from highmem.errors import HighmemError
from highmem.scan.analysis import Summary, analyse_function
from highmem.scan.apis import ApiTable, builtin_table
from highmem.scan.diagnostics import RULES, Finding
from highmem.scan.parse import parse_source

__all__ = ["ScanResult", "FileResult", "collect_files", "scan_file", "scan_paths", "scan_source"]

_SUPPRESS = re.compile(rb"highmem:\s*ignore(?:\s+([a-z, -]+))?")


@dataclass
class FileResult:
    """What one file gave: findings, counts, the functions that failed to parse or hit a budget."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    functions: int = 0
    mentions: bool = False
    failures: list[tuple[str, int]] = field(default_factory=list)
    budget: list[tuple[str, int]] = field(default_factory=list)
    suppressed: int = 0


@dataclass
class ScanResult:
    """The whole scan: findings in output order and the figures ``--verbose`` and the bench print."""

    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    files_parsed: int = 0
    functions: int = 0
    failures: list[tuple[str, str, int]] = field(default_factory=list)
    budget: list[tuple[str, str, int]] = field(default_factory=list)
    suppressed: int = 0

    def per_rule(self) -> dict[str, int]:
        """Findings per rule id, every rule listed."""
        out = {r: 0 for r in RULES}
        for f in self.findings:
            out[f.rule] += 1
        return out


def tree_version(paths: list[str]) -> tuple[int, int, int] | None:
    """The kernel version of the first directory in ``paths`` with a top-level Makefile, if any.

    2.6.37 made kmap_atomic a per-CPU stack and its km_type argument meaningless, so the km_type
    rules apply only to older trees (and to files scanned outside a tree).
    """
    for p in paths:
        mk = os.path.join(p, "Makefile")
        if os.path.isdir(p) and os.path.isfile(mk):
            with open(mk, "rb") as f:
                head = f.read(2048)
            pairs = re.findall(rb"^(VERSION|PATCHLEVEL|SUBLEVEL)\s*=\s*(\d+)", head, re.M)
            got = {k.decode(): int(v) for k, v in pairs}
            if {"VERSION", "PATCHLEVEL"} <= set(got):
                return got["VERSION"], got["PATCHLEVEL"], got.get("SUBLEVEL", 0)
    return None


def collect_files(paths: list[str]) -> list[str]:
    """The C files under ``paths`` (``.c`` in directories; any file named explicitly), sorted.

    Raises :class:`HighmemError` for a path that does not exist or a directory without C files.
    """
    out: list[str] = []
    for p in paths:
        if not os.path.exists(p):
            raise HighmemError(f"path {p!r} does not exist")
        if os.path.isdir(p):
            found = []
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [os.path.join(root, f) for f in sorted(files) if f.endswith(".c")]
            if not found:
                raise HighmemError(f"directory {p!r} holds no .c files")
            out += found
        else:
            with open(p, "rb") as f:
                data = f.read()
            if b"\0" in data:
                raise HighmemError(f"file {p!r} is binary, not C source")
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as e:
                raise HighmemError(f"file {p!r} is not UTF-8 (byte {e.start} is invalid)") from None
            out.append(p)
    return out


def _suppressed(f: Finding, lines: list[bytes]) -> bool:
    for ln in (f.line, f.line - 1):
        if 1 <= ln <= len(lines):
            m = _SUPPRESS.search(lines[ln - 1])
            if m and (m.group(1) is None or f.rule in [r.strip() for r in re.split(r"[ ,]+", m.group(1).decode())]):
                return True
    return False


def scan_source(path: str, source: bytes, table: ApiTable) -> FileResult:
    """Scan one file's bytes (the worker's unit of work)."""
    res = FileResult(path)
    if not table.mentions(source):
        return res
    res.mentions = True
    sf = parse_source(path, source, table.pattern, table.keys)
    res.failures = sf.failures
    own = set(table.apis)
    # First pass: every function with the built-in table, recording one-level summaries of the
    # file's static helpers on the way.
    summary = Summary()
    first: dict[int, tuple[list[Finding], str]] = {}
    for fn in sf.functions:
        if fn.name in own:
            continue  # the definition of an API function is not its use
        first[fn.line] = analyse_function(fn, path, table, sf.irq_handlers.get(fn.name),
                                          summary=summary if fn.static else None)
    helpers = {**summary.apis, **summary.may_unmap}
    full = table
    if helpers:
        # Second pass, only for the functions that call a summarised helper.
        full = table.with_summaries(summary.apis, summary.may_unmap)
        calls = re.compile(rb"\b(?:" + b"|".join(re.escape(n.encode()) for n in sorted(helpers)) + rb")\s*\(")
        sf.add_callers(calls)
    for fn in sf.functions:
        if fn.name in own:
            continue
        res.functions += 1
        if fn.line in first and not (helpers and calls.search(fn.body.text)):
            findings, status = first[fn.line]
        else:
            findings, status = analyse_function(fn, path, full, sf.irq_handlers.get(fn.name))
        if status == "budget":
            res.budget.append((fn.name, fn.line))
        for f in findings:
            if _suppressed(f, sf.lines):
                res.suppressed += 1
            else:
                res.findings.append(f)
    return res


def scan_file(path: str, table: ApiTable | None = None) -> FileResult:
    """Read and scan one file."""
    with open(path, "rb") as f:
        data = f.read()
    if b"\0" in data[:8192]:
        return FileResult(path)
    return scan_source(path, data, table or builtin_table())


_WORKER_TABLE: ApiTable | None = None


def _init_worker(table: ApiTable) -> None:
    global _WORKER_TABLE
    _WORKER_TABLE = table


def _work(path: str) -> FileResult:
    return scan_file(path, _WORKER_TABLE)


def _results(files: list[str], table: ApiTable, jobs: int) -> Iterator[FileResult]:
    if jobs <= 1 or len(files) < 2:
        for p in files:
            yield scan_file(p, table)
        return
    import multiprocessing as mp

    ctx = mp.get_context("fork") if hasattr(os, "fork") else mp.get_context()
    with ctx.Pool(jobs, initializer=_init_worker, initargs=(table,), maxtasksperchild=2000) as pool:
        yield from pool.imap(_work, files, chunksize=16)


def scan_paths(paths: list[str], table: ApiTable | None = None, jobs: int = 1,
               progress: Callable[[int, int], Any] | None = None) -> ScanResult:
    """Scan every C file under ``paths`` with ``jobs`` processes; ``progress(done, total)`` after each file."""
    table = table or builtin_table()
    files = collect_files(paths)
    version = tree_version(paths)
    if version is not None and version >= (2, 6, 37) and not table.km_type_ignored:
        import copy

        table = copy.copy(table)
        table.km_type_ignored = True
    res = ScanResult(files=len(files))
    for i, fr in enumerate(_results(files, table, jobs), 1):
        res.files_parsed += fr.mentions
        res.functions += fr.functions
        res.findings += fr.findings
        res.failures += [(fr.path, n, ln) for n, ln in fr.failures]
        res.budget += [(fr.path, n, ln) for n, ln in fr.budget]
        res.suppressed += fr.suppressed
        if progress is not None:
            progress(i, len(files))
    res.findings.sort(key=Finding.sort_key)
    return res
