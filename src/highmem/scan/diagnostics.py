"""Findings and how they are printed: gcc-style lines and the versioned JSON schema.

A finding is one warning (or note) at one place, with related notes at other places, in the
shape compilers use::

    fs/x.c:42:3: warning: kunmap_local(src) releases 'src' (mapped at line 40) while the later ... [highmem-unmap-order]
    fs/x.c:40:8: note: 'src' mapped here

JSON schema version 1 (``highmem scan --json``)::

    {"schema": "highmem-scan", "version": 1,
     "stats": {"files": int, "functions": int, "parse_failures": int, ...},
     "findings": [{"rule": str, "severity": "warning" | "note", "path": str, "line": int, "column": int,
                   "function": str, "message": str, "fingerprint": str,
                   "notes": [{"path": str, "line": int, "column": int, "message": str}]}]}

Lines and columns count from 1.  ``fingerprint`` identifies a finding across unrelated edits
(rule, path, function and message, no line numbers): ``--baseline`` compares fingerprints.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Note", "Finding", "RULES", "RULE_HELP", "format_gcc", "to_json", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1

#: Rule id -> severity.
RULES = {
    "unmap-order": "warning",
    "kmap-leak": "warning",
    "wrong-unmap": "warning",
    "double-unmap": "warning",
    "use-after-unmap": "warning",
    "sleep-in-atomic": "warning",
    "wrong-context": "warning",
    "remap-held-slot": "warning",
    "escape": "note",
}

#: Rule id -> (one sentence on what it finds, what to write instead); the SARIF rule descriptions.
RULE_HELP = {
    "unmap-order": ("A stack mapping (kmap_local_page, kmap_atomic) is released while a later one is still live.",
                    "Release local mappings in the reverse order of mapping."),
    "kmap-leak": ("A path from a map to a return does not release the mapping.",
                  "Release the mapping on every path, typically at a shared error label."),
    "wrong-unmap": ("The unmap call does not match the map (kind, argument, or no mapping on this path).",
                    "kunmap_local()/kunmap_atomic() take the mapped address; kunmap() takes the page."),
    "double-unmap": ("A mapping is released twice on some path.", "Release each mapping exactly once."),
    "use-after-unmap": ("The mapped address, or a pointer derived from it, is used after its unmap.",
                        "Finish every access before the unmap, or copy the data out first."),
    "sleep-in-atomic": ("A call that may sleep inside an atomic mapping section.",
                        "Use kmap_local_page() (which allows sleeping), or move the call out of the section."),
    "wrong-context": ("A km_type slot is used in a context it is not reserved for (2.4-2.6.36).",
                      "Disable interrupts around KM_IRQ*/KM_BOUNCE_READ; use KM_IRQ* in interrupt handlers."),
    "remap-held-slot": ("A km_type slot is mapped again while the address of its earlier mapping is still used "
                        "(2.4-2.6.36).",
                        "Give each mapping that is live at the same time its own km_type (KM_USER0 and KM_USER1)."),
    "escape": ("A local mapping is stored outside the function or returned.",
               "Make sure the code that uses it runs in the same task and releases it in stack order."),
}


@dataclass(frozen=True)
class Note:
    """A related place: where the mapping was made, the later mapping, the first unmap."""

    path: str
    line: int
    column: int
    message: str


@dataclass(frozen=True)
class Finding:
    """One diagnostic of rule ``rule`` at ``path:line:column`` in ``function``."""

    rule: str
    path: str
    line: int
    column: int
    function: str
    message: str
    notes: tuple[Note, ...] = field(default_factory=tuple)

    @property
    def severity(self) -> str:
        """``warning`` or ``note`` (the rule's, see :data:`RULES`)."""
        return RULES[self.rule]

    @property
    def fingerprint(self) -> str:
        """A digest of rule, path, function and message: stable when unrelated lines move."""
        key = "\0".join((self.rule, self.path, self.function, self.message))
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    def sort_key(self) -> tuple[str, int, int, str, str]:
        """Order of output: by place, then rule."""
        return (self.path, self.line, self.column, self.rule, self.message)


def format_gcc(f: Finding, colour: bool = False) -> str:
    """The finding as compiler lines: the diagnostic and its ``note:`` lines."""
    def paint(text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if colour else text

    sev = paint(f"{f.severity}:", "1;35" if f.severity == "warning" else "1;36")
    lines = [f"{paint(f'{f.path}:{f.line}:{f.column}:', '1')} {sev} {f.message} [{paint('highmem-' + f.rule, '1')}]"]
    for n in f.notes:
        lines.append(f"{paint(f'{n.path}:{n.line}:{n.column}:', '1')} {paint('note:', '1;36')} {n.message}")
    return "\n".join(lines)


def to_json(f: Finding) -> dict[str, Any]:
    """The finding as a schema-1 JSON object."""
    return {"rule": f.rule, "severity": f.severity, "path": f.path, "line": f.line, "column": f.column,
            "function": f.function, "message": f.message, "fingerprint": f.fingerprint,
            "notes": [{"path": n.path, "line": n.line, "column": n.column, "message": n.message} for n in f.notes]}
