"""Writing the report module's files: one place, so every file is written the same way.

Each file is written to a temporary name in its directory and renamed over the target, so a
reader never sees half a file and an interrupted write leaves the old file (or none). A target
that exists and is not a regular file (``/dev/null``, a FIFO) is written in place instead: a
rename would replace the device or the pipe itself.  The
hardening branch brings the project-wide helper for this; these two functions are the only
callers to point at it.
"""

from __future__ import annotations

import os

from highmem.errors import HighmemError

TYPE_CHECKING = False

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["write_text", "write_bytes"]


def write_bytes(path: str | Path, data: bytes, what: str) -> Path:
    """Write ``data`` to ``path`` atomically; ``what`` names the file in the one-sentence error."""
    # pathlib only when a file is written: it brings urllib.parse, a few milliseconds of a start-up.
    from pathlib import Path

    p = Path(path)
    if p.is_dir():
        raise HighmemError(f"{what} {p} is a directory: name a file to write")
    if not p.parent.exists():
        raise HighmemError(f"{what} {p} cannot be written: directory {p.parent} does not exist")
    if p.exists() and not p.is_file():
        # A device or a pipe (/dev/null, /dev/stdout, a FIFO): written in place. Renaming a
        # temporary file over it would replace the device itself, /dev/null for every process
        # of the system when run as root.
        try:
            with open(p, "wb") as f:
                f.write(data)
        except OSError as e:
            raise HighmemError(f"{what} {p} cannot be written: {e.strerror or e}") from None
        return p
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, p)
    except OSError as e:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise HighmemError(f"{what} {p} cannot be written: {e.strerror or e}") from None
    except BaseException:
        # Ctrl-C or any other interruption: never leave the temporary file behind.
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    return p


def write_text(path: str | Path, text: str, what: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically (see :func:`write_bytes`)."""
    return write_bytes(path, text.encode("utf-8", "replace"), what)
