"""Reviewing a patch: the findings it introduces and the ones it fixes.

``highmem scan --patch FILE.patch TREE`` copies the C files the patch touches out of TREE into a
temporary directory, scans the functions its hunks touch, applies the patch there (``patch -p1``,
never in TREE) and scans them again.  A finding is identified across the two versions by rule,
file, function and message with line numbers removed, so moved code is not "introduced".
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass, field

from highmem.errors import HighmemError
from highmem.scan.apis import ApiTable
from highmem.scan.diagnostics import Finding
from highmem.scan.driver import scan_source

__all__ = ["PatchReview", "review_patch", "parse_patch"]

_FILE = re.compile(r"^\+\+\+ (?:b/)?(\S+)")
_OLD = re.compile(r"^--- (?:a/)?(\S+)")
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_LINE_NO = re.compile(r"\b(?:line|lines) \d+")


@dataclass
class PatchReview:
    """What a patch does to the findings of the functions it touches."""

    introduced: list[Finding] = field(default_factory=list)
    fixed: list[Finding] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line per function: ``introduces 1 unmap-order in nilfs_rename(), fixes 0``."""
        if not self.introduced and not self.fixed:
            return f"the patch introduces no finding and fixes none ({len(self.files)} C files touched)"
        parts = []
        for verb, group in (("introduces", self.introduced), ("fixes", self.fixed)):
            c = Counter((f.rule, f.function) for f in group)
            parts.append(f"{verb} " + (", ".join(f"{n} {r} in {fn}()" for (r, fn), n in sorted(c.items())) or "0"))
        return ", ".join(parts)


def parse_patch(text: str) -> dict[str, tuple[list[tuple[int, int]], list[tuple[int, int]]]]:
    """Per touched ``.c``/``.h`` file: the old-side and new-side line ranges of its hunks."""
    out: dict[str, tuple[list[tuple[int, int]], list[tuple[int, int]]]] = {}
    current: str | None = None
    old_name: str | None = None
    for line in text.splitlines():
        if line.startswith("--- "):
            m = _OLD.match(line)
            old_name = m.group(1) if m else None
        elif line.startswith("+++ "):
            m = _FILE.match(line)
            name = m.group(1) if m else None
            if name == "/dev/null":
                name = old_name
            current = name if name and name.endswith((".c", ".h")) else None
            if current:
                out.setdefault(current, ([], []))
        elif current and line.startswith("@@"):
            m = _HUNK.match(line)
            if m:
                o, on, n, nn = int(m.group(1)), int(m.group(2) or 1), int(m.group(3)), int(m.group(4) or 1)
                out[current][0].append((o, o + max(on, 1) - 1))
                out[current][1].append((n, n + max(nn, 1) - 1))
    return out


def _touched(findings: list[Finding], source: bytes, ranges: list[tuple[int, int]], table: ApiTable,
             path: str) -> list[Finding]:
    from highmem.scan.parse import parse_source

    sf = parse_source(path, source, re.compile(rb"."))
    names = {fn.name for fn in sf.functions if any(a <= fn.end_line and fn.line <= b for a, b in ranges)}
    return [f for f in findings if f.function in names]


def _key(f: Finding) -> tuple[str, str, str, str]:
    return (f.rule, f.path, f.function, _LINE_NO.sub("line N", f.message))


def review_patch(patch_path: str, tree: str, table: ApiTable) -> PatchReview:
    """Scan the functions ``patch_path`` touches in ``tree``, before and after applying it in a copy."""
    try:
        with open(patch_path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise HighmemError(f"patch {patch_path!r} does not exist") from None
    except UnicodeDecodeError:
        raise HighmemError(f"patch {patch_path!r} is not UTF-8 text") from None
    if not os.path.isdir(tree):
        raise HighmemError(f"tree {tree!r} is not a directory")
    files = parse_patch(text)
    if not files:
        raise HighmemError(f"patch {patch_path!r} touches no .c or .h file")
    review = PatchReview(files=sorted(files))
    with tempfile.TemporaryDirectory(prefix="highmem-patch-") as tmp:
        for rel in files:
            src = os.path.join(tree, rel)
            if os.path.isfile(src):
                os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
                shutil.copyfile(src, os.path.join(tmp, rel))
        before = {rel: open(os.path.join(tmp, rel), "rb").read() if os.path.isfile(os.path.join(tmp, rel)) else b""
                  for rel in files}
        proc = subprocess.run(["patch", "-p1", "--batch", "--silent", "-d", tmp, "-i", os.path.abspath(patch_path)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            first = (proc.stdout + proc.stderr).strip().splitlines()
            raise HighmemError(f"patch {patch_path!r} does not apply to {tree!r}: "
                               f"{first[0] if first else 'patch failed'}")
        for rel, (old_ranges, new_ranges) in sorted(files.items()):
            after_src = open(os.path.join(tmp, rel), "rb").read() if os.path.isfile(os.path.join(tmp, rel)) else b""
            old = _touched(scan_source(rel, before[rel], table).findings, before[rel], old_ranges, table, rel)
            new = _touched(scan_source(rel, after_src, table).findings, after_src, new_ranges, table, rel)
            review.introduced.extend(_surplus(new, old))
            review.fixed.extend(_surplus(old, new))
    return review


def _surplus(these: list[Finding], those: list[Finding]) -> list[Finding]:
    """The warnings of ``these`` beyond as many equal ones (by :func:`_key`) as ``those`` has."""
    mine = Counter(_key(f) for f in these)
    theirs = Counter(_key(f) for f in those)
    out: list[Finding] = []
    for f in these:
        k = _key(f)
        if mine[k] > theirs[k] and f.severity == "warning":
            out.append(f)
            mine[k] -= 1
    return out
