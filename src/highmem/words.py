"""Counted nouns for messages: ``plural(1, "entry")`` is "1 entry", ``plural(2, "entry")`` "2 entries".

The bottom layer: importing it costs nothing, so the engine's messages and the reports share it.
"""

from __future__ import annotations

__all__ = ["plural", "noun"]

_IRREGULAR = {"context waits": "contexts wait", "context wait": "contexts wait"}


def noun(n: int, word: str, many: str | None = None) -> str:
    """``word`` as the noun of a count of ``n`` (without the number)."""
    if n == 1:
        return word
    if many is not None:
        return many
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word.endswith("y") and not word.endswith(("ay", "ey", "oy", "uy")):
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


def plural(n: int, word: str, many: str | None = None) -> str:
    """``"{n} {word}"`` with the noun agreeing with ``n`` (``many`` overrides the plural form)."""
    return f"{n} {noun(n, word, many)}"
