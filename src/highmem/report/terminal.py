"""User strings on a terminal: control characters shown as escapes, rich markup inert.

Scenario names are restricted when they load (:mod:`highmem.scenarios.names`), but paths, option
values and Python scenarios' strings reach the terminal too.  Everything the command line prints
that came from the user goes through :func:`escape_controls` (plain ``write``) or :func:`plain`
(rich), so an escape sequence in a file name cannot move the cursor, recolour the terminal or
reverse the text, and ``[red]`` in a name is shown, not interpreted.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["escape_controls", "plain"]

# C0 and C1 controls, DEL, lone surrogates (undecodable bytes of a file name) and the
# bidirectional overrides that reorder what a terminal shows.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\x1b": "\\x1b"}


def _escape(m: re.Match[str]) -> str:
    ch = m.group(0)
    if ch in _NAMED:
        return _NAMED[ch]
    n = ord(ch)
    if 0xDC80 <= n <= 0xDCFF:  # surrogateescape: the original byte
        return f"\\x{n - 0xDC00:02x}"
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}"


def escape_controls(text: str, keep_newlines: bool = False) -> str:
    """``text`` with every control character written as a Python-style escape (``\\x1b``).

    ``keep_newlines`` leaves line breaks alone (for multi-line blocks such as stacks).
    """
    if keep_newlines:
        return "\n".join(_UNSAFE.sub(_escape, line) for line in text.split("\n"))
    return _UNSAFE.sub(_escape, text)


def plain(text: str) -> Any:
    """A rich ``Text`` of ``text`` with controls escaped: printed as is, never read as markup."""
    from rich.text import Text

    return Text(escape_controls(text, keep_newlines=True))
