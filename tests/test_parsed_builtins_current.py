"""The parsed built-ins (highmem.scenarios._parsed_builtins): current, exact, and never a different result."""

from __future__ import annotations

import json
import os
import tomllib

import pytest

from highmem.scenarios import _BUILTIN, builtin_names, load_toml_text, parsed
from highmem.scenarios._parsed_builtins import DOCS
from highmem.sha import sha256_hex


def _text(name: str) -> str:
    with open(os.path.join(_BUILTIN, f"{name}.toml"), encoding="utf-8") as f:
        return f.read()


def test_generated_module_is_current() -> None:
    """The committed module is what `python -m highmem.scenarios.parsed` writes for the built-ins as they are."""
    with open(parsed.DATA_FILE, encoding="utf-8") as f:
        assert f.read() == parsed.render(), "run `python -m highmem.scenarios.parsed` after editing a built-in"


def _typed(value: object) -> object:
    """``value`` with the type of every item spelled out (1 and 1.0 and True compare equal otherwise)."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


@pytest.mark.parametrize("name", builtin_names())
def test_cached_doc_is_what_tomllib_reads(name: str) -> None:
    """Every built-in is cached, and its cached document equals tomllib's, type for type and key order."""
    text = _text(name)
    doc = parsed.cached_doc(text)
    assert doc is not None
    want = tomllib.loads(text)
    assert _typed(doc) == _typed(want)
    assert json.dumps(doc) == json.dumps(want)
    assert parsed.cached_doc(text) is not doc  # fresh on every call: a loader may change what it reads


def test_other_text_misses_the_cache() -> None:
    """A built-in's text changed by one character is parsed by tomllib (keyed by content, not by name)."""
    text = _text("copy-highpage")
    assert parsed.cached_doc(text + "\n") is None
    assert sha256_hex((text + "\n").encode()) not in DOCS


@pytest.mark.parametrize("name", builtin_names())
def test_same_scenario_with_and_without_the_cache(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading a built-in through the cache and through tomllib gives equal scenarios and digests."""
    text = _text(name)
    fast = load_toml_text(text, f"builtin:{name}")
    monkeypatch.setattr(parsed, "cached_doc", lambda text: None)
    slow = load_toml_text(text, f"builtin:{name}")
    assert fast == slow
    assert fast.digest == slow.digest
