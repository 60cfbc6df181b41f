"""Schedule files: a failing schedule, small, human-readable, versioned JSON.

Only the choices that differ from "let the running context continue" are
written, each as ``[choice-point, "kind name@cpu"]``; every other choice
point takes option 0.  The file also names the scenario (with a digest of
its content), the profile and configuration, what was found, and the step
count, so that a replay against a changed scenario is refused instead of
silently diverging::

    {
      "format": "highmem-schedule", "version": 2,
      "scenario": "irq-uses-user-slot", "digest": "sha256:...",
      "profile": "linux-2.4", "config": ["DEBUG_HIGHMEM=n"],
      "finding": {"kind": "stale-access", "message": "..."},
      "steps": 92, "choices": [[35, "irq eth0@0"]]
    }

Version 2 (this highmem) changed one scheduling rule: a context spinning on a lock that another
context takes is no longer offered to run before the lock is released.  A version-1 file is
still read, and replayed under the new rule; the replay (``highmem check --replay``) refuses it
when it does not reproduce what it recorded, instead of calling it a divergence.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from highmem.errors import HighmemError

__all__ = ["SCHEDULE_FORMAT", "SCHEDULE_VERSION", "READ_VERSIONS", "save_schedule", "schedule_text",
           "load_schedule"]

SCHEDULE_FORMAT = "highmem-schedule"
SCHEDULE_VERSION = 2
#: The versions load_schedule reads (1: recorded before spinners were rescheduled on a lock's capture).
READ_VERSIONS = (1, 2)
#: Bytes of a schedule file (a shrunk schedule is a few kB; a long unshrunk one well under 1 MB).
MAX_SCHEDULE_BYTES = 16 << 20


def save_schedule(path: str | Path, data: dict[str, Any]) -> None:
    """Write a schedule file (``data`` without the format header), atomically: to a temporary name
    that is renamed when complete, so an interrupted write never leaves half a schedule."""
    from highmem.report.output import write_text

    write_text(path, schedule_text(data), "schedule file")


def schedule_text(data: dict[str, Any]) -> str:
    """The text of a schedule file holding ``data``."""
    doc = {"format": SCHEDULE_FORMAT, "version": SCHEDULE_VERSION, **data}
    choices = doc.pop("choices")
    text = json.dumps(doc, indent=2)
    # One choice per line keeps long schedules readable.
    lines = ",\n    ".join(json.dumps(c) for c in choices)
    body = f'"choices": [\n    {lines}\n  ]' if choices else '"choices": []'
    return text[:-2] + ",\n  " + body + "\n}\n"


def load_schedule(path: str | Path) -> dict[str, Any]:
    """Read and check a schedule file."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            raw = f.read(MAX_SCHEDULE_BYTES + 1)
        if len(raw) > MAX_SCHEDULE_BYTES:
            raise HighmemError(f"schedule file {str(p)!r} is larger than the limit of {MAX_SCHEDULE_BYTES} bytes")
        doc = json.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise HighmemError(f"schedule file {str(p)!r} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise HighmemError(f"schedule file {str(p)!r} is not a JSON schedule: {e}") from None
    except RecursionError:
        raise HighmemError(f"schedule file {str(p)!r} is not a JSON schedule: it is nested too deeply") from None
    if not isinstance(doc, dict) or doc.get("format") != SCHEDULE_FORMAT:
        raise HighmemError(f"{str(p)!r} is not a highmem schedule (no \"format\": \"{SCHEDULE_FORMAT}\")")
    v = doc.get("version")
    if v.__class__ is not int or v not in READ_VERSIONS:
        raise HighmemError(f"schedule file {str(p)!r} has version {v!r}; this highmem reads versions "
                           f"{READ_VERSIONS[0]} and {READ_VERSIONS[-1]}")
    ch = doc.get("choices")
    if not isinstance(ch, list) or not all(
            isinstance(c, list) and len(c) == 2 and isinstance(c[0], int) and not isinstance(c[0], bool)
            and isinstance(c[1], str) for c in ch):
        raise HighmemError(f"schedule file {str(p)!r} has malformed choices: each is [point, \"label\"]")
    for key in ("scenario", "digest"):
        if not isinstance(doc.get(key), str):
            raise HighmemError(f"schedule file {str(p)!r} lacks the {key!r} it was recorded for")
    cfg = doc.get("config", [])
    if not isinstance(cfg, list) or not all(isinstance(c, str) for c in cfg):
        raise HighmemError(f"schedule file {str(p)!r} has a malformed config: it is a list of \"NAME=y|n\" strings")
    finding = doc.get("finding", {})
    if not isinstance(finding, dict) or not isinstance(finding.get("kind", ""), str):
        raise HighmemError(f"schedule file {str(p)!r} has a malformed finding: it is an object with a \"kind\"")
    if not isinstance(doc.get("profile", ""), str):
        raise HighmemError(f"schedule file {str(p)!r} has a malformed profile: it is a profile name")
    steps = doc.get("steps", 0)
    if not isinstance(steps, int) or isinstance(steps, bool):
        raise HighmemError(f"schedule file {str(p)!r} has malformed steps: it is a whole number")
    doc["choices"] = [(int(a), str(b)) for a, b in ch]
    return doc
