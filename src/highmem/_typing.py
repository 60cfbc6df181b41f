"""The three :mod:`typing` names the model uses at run time, without importing :mod:`typing`.

Why: :mod:`typing` is the largest standard module a ``highmem check`` would import (about 3 ms, a
third of a ``python -c pass``), and a class made with ``typing.NamedTuple`` costs three times one
made with :func:`collections.namedtuple` (typing checks every annotation, compiling a ``ForwardRef``
for each string one). A module writes::

    TYPE_CHECKING = False
    if TYPE_CHECKING:
        from typing import NamedTuple
    else:
        from highmem._typing import NamedTuple

so that type checkers read typing's own definitions, and the process runs these:

- :data:`NamedTuple`: ``class Event(NamedTuple): ...`` makes what typing makes (Python 3.11
  ``typing.NamedTupleMeta``), a :func:`collections.namedtuple` with the class's defaults, methods,
  docstring and ``__annotations__``, and the same errors. Departure from typing: annotations are
  kept as written, strings included (typing wraps a string in a ``ForwardRef``);
  ``typing.get_type_hints`` evaluates both to the same types. The generic form
  (``NamedTuple`` with ``Generic``) and the functional form are not provided.
- :class:`NewType`: a named identity function, as ``typing.NewType`` is at run time.
- :data:`Protocol`: ``object``. A protocol here only documents an interface to type checkers; no
  code tests ``isinstance`` against one (which would need ``runtime_checkable`` anyway).

tests/test_typing_shims.py compares each with typing's.
"""

from __future__ import annotations

import sys
from collections import namedtuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["NamedTuple", "NewType", "Protocol"]

# typing's sets (3.11): attributes a NamedTuple class body may not define, and those it does not copy.
_PROHIBITED = frozenset({"__new__", "__init__", "__slots__", "__getnewargs__", "_fields", "_field_defaults",
                         "_make", "_replace", "_asdict", "_source"})
_SPECIAL = frozenset({"__module__", "__name__", "__annotations__"})
# Called with computed names and defaults, which a type checker's namedtuple() special case refuses.
_namedtuple: Any = namedtuple


class _NamedTupleMeta(type):
    def __new__(mcls, typename: str, bases: tuple[type, ...], ns: dict[str, Any]) -> Any:
        for base in bases:
            if base is not NamedTuple:
                raise TypeError("can only inherit from a NamedTuple type and Generic")
        types: dict[str, Any] = ns.get("__annotations__", {})
        default_names: list[str] = []
        for name in types:
            if name in ns:
                default_names.append(name)
            elif default_names:
                raise TypeError(f"Non-default namedtuple field {name} cannot follow default field"
                                f"{'s' if len(default_names) > 1 else ''} {', '.join(default_names)}")
        nt: Any = _namedtuple(typename, list(types), defaults=[ns[n] for n in default_names],
                              module=ns["__module__"])
        nt.__annotations__ = nt.__new__.__annotations__ = dict(types)
        for key in ns:
            if key in _PROHIBITED:
                raise AttributeError("Cannot overwrite NamedTuple attribute " + key)
            if key not in _SPECIAL and key not in nt._fields:
                setattr(nt, key, ns[key])
        return nt


#: Base class of a typed named tuple, as ``typing.NamedTuple`` in a class statement.
NamedTuple: Any = type.__new__(_NamedTupleMeta, "NamedTuple", (), {})


class NewType:
    """``NewType(name, tp)``: at run time the identity on values of ``tp``, as typing's."""

    def __init__(self, name: str, tp: Any) -> None:
        self.__qualname__ = self.__name__ = name
        self.__supertype__ = tp
        self.__module__ = sys._getframe(1).f_globals.get("__name__", "__main__")

    def __call__(self, value: Any) -> Any:
        return value

    def __repr__(self) -> str:
        return f"{self.__module__}.{self.__qualname__}"


#: A protocol class is a plain class at run time (see the module docstring).
Protocol: Any = object
