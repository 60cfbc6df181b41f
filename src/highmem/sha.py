"""SHA-256 without ``hashlib``'s start-up cost.

``hashlib`` loads OpenSSL (about 2 ms, a quarter of a ``python -c pass``) to offer every
algorithm; a start-up needs only SHA-256 (scenario digests, the key of the parsed built-ins),
which CPython also builds as a small module of its own. The digests are the same bytes.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["sha256_hex"]


def _constructor() -> Any:
    # The private module was renamed in 3.12 (_sha2); hashlib is the fallback on any other build.
    try:
        from _sha2 import sha256  # type: ignore[import-not-found]
    except ImportError:
        try:
            from _sha256 import sha256  # type: ignore[import-not-found,no-redef]
        except ImportError:
            from hashlib import sha256  # type: ignore[assignment]
    return sha256


_sha256 = _constructor()


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` in hexadecimal, as ``hashlib.sha256(data).hexdigest()``."""
    return str(_sha256(data).hexdigest())
