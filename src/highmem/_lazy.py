"""Lazy public names (PEP 562), one implementation for every package that re-exports.

A package hands :func:`lazy_exports` its name, its table of public name -> defining module, and
its globals; it gets back the module-level ``__getattr__`` and ``__dir__``.  A name's module is
imported on first use and the value cached in the package, so ``import highmem`` costs only the
package itself.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    # Annotations only: `highmem --version` must not import typing.
    from collections.abc import Callable
    from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: dict[str, str],
                 namespace: dict[str, Any]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``, whose public names live in ``exports``' modules."""

    def __getattr__(name: str) -> Any:
        mod = exports.get(name)
        if mod is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(mod), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
