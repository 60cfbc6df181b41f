"""What checking one TOML scenario file shares: where things are in its text, and how a check fails.

:class:`Lines` finds the line of a table, a key or an operation in the raw text (``tomllib`` keeps
none); :class:`Ctx` is the per-file context every check raises through, so each problem becomes one
sentence naming the file and the line.  The small checks here (a value's type, a name, a table, an
array of tables) are the ones every table of :mod:`highmem.scenarios._toml_tables` and the
operation lists of :mod:`highmem.scenarios._toml_ops` use.
"""

from __future__ import annotations

import re

from highmem.errors import HighmemError
from highmem.scenarios.limits import MAX_NESTING
from highmem.scenarios.names import check_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Lines", "Ctx", "want", "want_name", "table", "array", "find_header", "parse_toml", "stem"]


class Lines:
    """Finds the line of the n-th ``op =`` of the k-th ``[[kind]]`` table in the raw text.

    One pass over the text indexes every table header and every ``op =``, so each look-up is
    constant time and loading stays linear in the size of the file.
    """

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        #: kind -> the 1-based line of each [[kind]] header, in order
        self.tables: dict[str, list[int]] = {}
        #: (kind, k) -> the 1-based line of each ``op =`` in that table, in order
        self.ops: dict[tuple[str, int], list[int]] = {}
        #: (section, key) -> the line of its first assignment; built on first use
        self.keys: dict[tuple[str, str], int] | None = None
        header = re.compile(r"^\s*\[\[\s*([A-Za-z0-9_-]+)\s*\]\]")
        current: tuple[str, int] | None = None
        for i, line in enumerate(self.lines):
            m = header.match(line)
            if m:
                starts = self.tables.setdefault(m.group(1), [])
                current = (m.group(1), len(starts))
                starts.append(i + 1)
                continue
            if re.match(r"^\s*\[", line):
                current = None
                continue
            if current is not None and "op" in line:
                self.ops.setdefault(current, []).extend(i + 1 for _ in re.finditer(r"\bop\s*=", line))

    def table(self, kind: str, k: int) -> int | None:
        starts = self.tables.get(kind, [])
        return starts[k] if k < len(starts) else None

    def op(self, kind: str, k: int, n: int) -> int | None:
        found = self.ops.get((kind, k), [])
        return found[n] if n < len(found) else None

    def key(self, section: str, key: str) -> int | None:
        if self.keys is None:
            self.keys = {}
            section_now = ""
            # A bare key, or a quoted one (a page named "a b" is refused at its line too).
            assign = re.compile(r"^(\"[^\"]*\"|'[^']*'|[^\s=\[]+)\s*=")
            for i, line in enumerate(self.lines):
                s = line.strip()
                if s.startswith("["):
                    section_now = s.strip("[] ")
                    continue
                m = assign.match(s)
                if m:
                    self.keys.setdefault((section_now, m.group(1).strip("\"'")), i + 1)
        return self.keys.get((section, key))


class Ctx:
    """One file's check: its name and lines, and what the later tables' checks need of the earlier ones."""

    def __init__(self, where: str, lines: Lines) -> None:
        self.where = where
        self.lines = lines
        #: (op, interrupt or softirq name) -> the CPUs it is declared on
        self.routes: dict[tuple[str, str], set[int]] = {}
        #: the km type names the profile accepts, in enum order, and what that list is (for messages)
        self.km_order: tuple[str, ...] = ()
        self.km_label = ""

    def fail(self, line: int | None, rule: str) -> HighmemError:
        loc = f"{self.where}:{line}" if line else self.where
        return HighmemError(f"{loc}: {rule}")


def want_name(cx: Ctx, line: int | None, what: str, value: Any, reserved: bool = False) -> None:
    try:
        check_name(what, value, reserved=reserved)
    except HighmemError as e:
        raise cx.fail(line, str(e)) from None


def find_header(lines: Lines, key: str) -> int | None:
    for i, line in enumerate(lines.lines):
        if re.match(r"^\s*\[+\s*" + re.escape(key) + r"\s*\]+", line):
            return i + 1
    return None


def parse_toml(cx: Ctx, text: str) -> dict[str, Any]:
    """``tomllib.loads(text)``, its errors as one sentence naming the line."""
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        raise cx.fail(int(m.group(1)) if m else None, f"TOML syntax error: {e}") from None
    except RecursionError:
        raise cx.fail(None, "its arrays or tables are nested too deeply to read (the limit of repeat nesting "
                      f"is {MAX_NESTING})") from None


def stem(where: str) -> str:
    """``pathlib.Path(where).stem`` on POSIX: the final component without its last suffix."""
    # pathlib drops empty and "." components ("a/./b/", "."), then takes the last one left.
    parts = [p for p in where.split("/") if p not in ("", ".")]
    name = parts[-1] if parts else ""
    i = name.rfind(".")
    return name[:i] if 0 < i < len(name) - 1 else name


def table(cx: Ctx, doc: dict[str, Any], key: str) -> dict[str, Any]:
    v = doc.get(key, {})
    if not isinstance(v, dict):
        raise cx.fail(find_header(cx.lines, key), f"[{key}] must be a table, written [{key}]")
    return v


def array(cx: Ctx, doc: dict[str, Any], key: str) -> list[dict[str, Any]]:
    v = doc.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        raise cx.fail(find_header(cx.lines, key), f"{key} must be an array of tables, written [[{key}]]")
    return v


def want(cx: Ctx, line: int | None, what: str, value: Any, typ: Any) -> None:
    types = typ if isinstance(typ, tuple) else (typ,)
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if not ok:
        names = " or ".join({str: "a string", int: "an integer", bool: "true or false", dict: "a table",
                             list: "an array"}[t] for t in types)
        raise cx.fail(line, f"{what} must be {names}, not {value!r}")
