"""Helpers shared by the fuzz tests (not a test module itself).

* :func:`to_toml` - a tiny TOML serializer for the structured loader fuzzer (no dependency).
* :func:`time_limit` - a SIGALRM guard that turns a hang into :class:`FuzzTimeout`, a
  ``BaseException`` so that no ``except Exception`` of highmem (the engine wraps user-code
  exceptions) can swallow it.
* The registry of *known* src bugs the fuzzers found.  Each one is pinned by an
  ``xfail(strict=True)`` test in ``test_fuzz_regressions.py``; the fuzzers count an input that
  hits one as "known" instead of failing, so the campaign stays green in CI while the bug is
  open.  ``HIGHMEM_FUZZ_STRICT=1`` makes known bugs fail too.  When a bug is fixed its xfail
  test XPASSes (strict, so the suite fails) and its entry here must go.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["FuzzTimeout", "time_limit", "to_toml", "fuzz_examples", "STRICT", "known_loader_bug",
           "known_run_skip", "known_run_bug", "STATS"]

#: examples per fuzz test = base * HIGHMEM_FUZZ_EXAMPLES / 100 (the variable is a percentage, default 100)
_SCALE = int(os.environ.get("HIGHMEM_FUZZ_EXAMPLES", "100") or "100")
STRICT = os.environ.get("HIGHMEM_FUZZ_STRICT", "") not in ("", "0")
#: (test, outcome) -> count, printed by the summary tests
STATS: Counter[tuple[str, str]] = Counter()


def fuzz_examples(base: int) -> int:
    """``base`` scaled by ``HIGHMEM_FUZZ_EXAMPLES`` (percent; 100 = the default CI budget)."""
    return max(1, base * _SCALE // 100)


class FuzzTimeout(BaseException):
    """The guarded call ran longer than its limit: a hang."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`FuzzTimeout` in the main thread after ``seconds`` of wall time."""

    def fire(signum: int, frame: Any) -> None:
        raise FuzzTimeout(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# -- TOML ---------------------------------------------------------------------------------------
_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k: str) -> str:
    return k if _BARE.match(k) else _str(k)


def _str(s: str) -> str:
    # JSON escapes '"', '\\' and C0 controls as TOML does; TOML also forbids a raw DEL.
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(str(k))} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot serialize {v!r}")


def _body(table: dict[str, Any]) -> list[str]:
    out = []
    for k, v in table.items():
        if k == "ops" and isinstance(v, list) and v:
            # One operation per line, as people write them (exercises the loader's line finder).
            out.append("ops = [")
            out.extend(f"  {_value(op)}," for op in v)
            out.append("]")
        else:
            out.append(f"{_key(k)} = {_value(v)}")
    return out


def to_toml(doc: dict[str, Any]) -> str:
    """``doc`` as TOML: scalars first, then ``[table]`` for dicts and ``[[table]]`` for lists of
    dicts (other lists and values stay inline)."""
    head: list[str] = []
    tail: list[str] = []
    for k, v in doc.items():
        if isinstance(v, dict):
            tail += ["", f"[{_key(k)}]"] + _body(v)
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for t in v:
                tail += ["", f"[[{_key(k)}]]"] + _body(t)
        else:
            head.append(f"{_key(k)} = {_value(v)}")
    return "\n".join(head + tail) + "\n"


# -- known src bugs -----------------------------------------------------------------------------
# Each entry: a name (the xfail regression test that pins it) and a predicate.

def _walk_ops(doc: Any) -> Iterator[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    """(context kind, op, the op list it is in) of every op table, nested repeats included."""
    if not isinstance(doc, dict):
        return

    def rec(kind: str, ops: Any) -> Iterator[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
        if not isinstance(ops, list):
            return
        for op in ops:
            if isinstance(op, dict):
                yield kind, op, ops
                if op.get("op") == "repeat":
                    yield from rec(kind, op.get("ops"))

    for kind in ("task", "irq", "softirq"):
        ctxs = doc.get(kind)
        if isinstance(ctxs, list):
            for c in ctxs:
                if isinstance(c, dict):
                    yield from rec(kind, c.get("ops"))


def known_loader_bug(exc: BaseException) -> str | None:
    """The known open bug an exception of the loader is: none are open (all fixed, see the regressions)."""
    return None


def _int(v: Any, default: int) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else default


def _zero_step(ops: Any) -> bool:
    """Whether one pass over ``ops`` reaches no scheduling point (so no step budget applies)."""
    if not isinstance(ops, list):
        return True
    for op in ops:
        if not isinstance(op, dict):
            continue
        name = op.get("op")
        if name == "work":
            if _int(op.get("steps", 1), 1) > 0:
                return False
        elif name == "repeat":
            if _int(op.get("count"), 0) > 0 and not _zero_step(op.get("ops")):
                return False
        else:
            return False
    return True


def _idle_iterations(ops: Any, max_steps: int) -> int:
    """An upper estimate of loop iterations that run without any scheduling point."""
    total = 0
    if not isinstance(ops, list):
        return 0
    for op in ops:
        if isinstance(op, dict) and op.get("op") == "repeat":
            count = max(0, _int(op.get("count"), 0))
            body = op.get("ops")
            n = count if _zero_step(body) else min(count, max(1, max_steps))
            total += n * (1 + _idle_iterations(body, max_steps))
    return total


def known_run_skip(sc: Any) -> str | None:
    """A known open bug that running a loaded scenario would hit: none are open."""
    return None


_BH_OPS = {"submit_bh"}


def known_run_bug(sc: Any, exc: BaseException) -> str | None:
    """The known open bug an exception of running a scenario is: none are open."""
    return None

