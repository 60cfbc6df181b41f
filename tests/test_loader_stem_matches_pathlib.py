"""The loader's file-name stem (without pathlib) is pathlib's, for every string a scenario can be loaded as."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from highmem.scenarios._toml_check import stem


@given(st.text(alphabet="ab./:-_ <>", max_size=12))
def test_stem_is_pathlib_stem(where: str) -> None:
    """``stem(where)`` equals ``Path(where).stem`` (dots, slashes, empty and odd names included)."""
    assert stem(where) == Path(where).stem


def test_stem_examples() -> None:
    """A few names written out: a path, a hidden file, a double suffix, a trailing dot, the default."""
    for where in ("dir/my.toml", ".hidden", "a.b.toml", "x.", "<scenario>", "builtin:copy-highpage", "a//b/", ""):
        assert stem(where) == Path(where).stem, where
