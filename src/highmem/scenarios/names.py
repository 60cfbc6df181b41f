"""The names a scenario gives: scenarios, contexts, pages, devices, queues, locks, variables.

Names end up in file names under ``--out``, in terminal tables (where rich reads ``[...]`` as
markup), in traces and in the engine's own naming of handler instances (``eth0#1``), so they are
restricted to one plain character set, checked when a scenario loads:

* a letter or ``_`` first, then letters, digits, ``_``, ``.`` and ``-``;
* at most :data:`MAX_NAME` characters;
* not one of the engine's own context names (:data:`RESERVED`).

:func:`file_stem` is the one place a name becomes part of a file name.
"""

from __future__ import annotations

import re

from highmem.errors import HighmemError

TYPE_CHECKING = False

if TYPE_CHECKING:
    # Only in annotations: pathlib (with urllib.parse) would cost every start-up a few milliseconds.
    from pathlib import Path

__all__ = ["MAX_NAME", "NAME_CHARSET", "RESERVED", "is_name", "check_name", "name_from_stem", "file_stem",
           "inside"]

#: Longest accepted name (well under the 255 bytes of a file name, with room for suffixes).
MAX_NAME = 64
#: The rule, as the error messages state it.
NAME_CHARSET = "a letter or _ first, then letters, digits, _, . or -"
#: Names the engine gives its own contexts: the boot task and the IPI handler of every CPU.
RESERVED = frozenset({"init", "CALL_FUNCTION_VECTOR"})

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def is_name(name: object) -> bool:
    """Whether ``name`` is a string in the character set and length of a name."""
    return isinstance(name, str) and len(name) <= MAX_NAME and _NAME_RE.fullmatch(name) is not None


def check_name(what: str, name: object, *, reserved: bool = False) -> str:
    """``name`` if it is a valid name, else a :class:`HighmemError` naming ``what``.

    ``reserved`` also refuses the engine's context names (for tasks, interrupts, softirqs).
    """
    if not isinstance(name, str):
        raise HighmemError(f"{what} must be a string, not {name!r}")
    if len(name) > MAX_NAME:
        raise HighmemError(f"{what} {name[:MAX_NAME]!r}... is {len(name)} characters long: a name has at most "
                           f"{MAX_NAME}")
    if _NAME_RE.fullmatch(name) is None:
        raise HighmemError(f"{what} {name!r} is not a plain name: use {NAME_CHARSET}")
    if reserved and name in RESERVED:
        raise HighmemError(f"{what} {name!r} is reserved: the engine names its own contexts "
                           f"{', '.join(sorted(RESERVED))}")
    return name


def name_from_stem(stem: str) -> str:
    """The default name of a scenario file without ``[scenario] name``: its stem, with every character
    outside the set replaced by ``_`` and cut to :data:`MAX_NAME` (``my scenario.toml`` is
    ``my_scenario``)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", stem)
    if not name or not (name[0].isascii() and (name[0].isalpha() or name[0] == "_")):
        name = "_" + name
    return name[:MAX_NAME]


def file_stem(*parts: str) -> str:
    """A file name stem from ``parts`` joined by ``.``: each part a valid name, so the stem has no
    separator, no ``..`` component and no character a file system or terminal treats specially."""
    for p in parts:
        check_name("a file name part", p)
    return ".".join(parts)


def inside(directory: Path, name: str) -> Path:
    """``directory / name``, refused unless it stays in ``directory`` (no separator, no ``..``)."""
    if not name or "/" in name or "\\" in name or "\0" in name or name in (".", ".."):
        raise HighmemError(f"file name {name!r} would leave directory {str(directory)!r}")
    path = directory / name
    if path.resolve().parent != directory.resolve():
        raise HighmemError(f"file name {name!r} would leave directory {str(directory)!r}")
    return path
