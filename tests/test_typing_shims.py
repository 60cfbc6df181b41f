"""highmem._typing's run-time stand-ins behave as typing's: every NamedTuple of the model is built a
second time from its own source with ``typing.NamedTuple`` and the two are compared."""

from __future__ import annotations
import __future__

import importlib
import inspect
import pickle
import re
import textwrap
import typing
from typing import Any

import pytest

from highmem import _typing

MODULES = ["highmem.events", "highmem.hw.pagetable", "highmem.sim.checker", "highmem.sim.engine",
           "highmem.sim.trace"]


def _named_tuples() -> list[type]:
    out = []
    for name in MODULES:
        mod = importlib.import_module(name)
        out += [c for c in vars(mod).values() if isinstance(c, type) and issubclass(c, tuple)
                and c.__module__ == name and hasattr(c, "_fields")]
    return out


TUPLES = _named_tuples()


def _twin(cls: type) -> type:
    mod = importlib.import_module(cls.__module__)
    ns = dict(vars(mod), NamedTuple=typing.NamedTuple)
    # Compiled as its module is: with or without ``from __future__ import annotations``.
    flags = __future__.annotations.compiler_flag if vars(mod).get("annotations") is __future__.annotations else 0
    exec(compile(textwrap.dedent(inspect.getsource(cls)), mod.__file__ or "?", "exec", flags, dont_inherit=True), ns)
    twin = ns[cls.__name__]
    assert twin is not cls
    return twin


def test_typing_shims_cover_the_model_named_tuples() -> None:
    """The model's modules define their NamedTuples with the stand-in, not typing's."""
    assert len(TUPLES) >= 20
    assert "typing" not in {c.__new__.__module__ for c in TUPLES}


@pytest.mark.parametrize("cls", TUPLES, ids=lambda c: c.__qualname__)
def test_typing_shims_named_tuple_matches_typing(cls: type) -> None:
    """Fields, defaults, type hints, docstring, methods, repr, ==, pickling as typing.NamedTuple's."""
    twin = _twin(cls)
    assert cls._fields == twin._fields  # type: ignore[attr-defined]
    assert cls._field_defaults == twin._field_defaults  # type: ignore[attr-defined]
    mod = vars(importlib.import_module(cls.__module__))
    assert typing.get_type_hints(cls, mod) == typing.get_type_hints(twin, mod)
    assert cls.__doc__ == twin.__doc__ and cls.__bases__ == twin.__bases__ == (tuple,)
    # The departure: a string annotation stays a string (typing makes it a ForwardRef).
    assert str(inspect.signature(cls)) == re.sub(r"ForwardRef\(('[^']*')\)", r"\1", str(inspect.signature(twin)))
    own = {k for k in vars(twin) if not k.startswith("__") or k in ("kind",)}
    assert own <= set(vars(cls))
    for k in own:
        a, b = vars(cls)[k], vars(twin)[k]
        if callable(a) and hasattr(a, "__code__"):
            assert a.__code__.co_code == b.__code__.co_code, k
        elif not isinstance(a, property | classmethod | staticmethod):
            assert a == b or type(a) is type(b) is _tuplegetter, k
    args = [i for i, _ in enumerate(cls._fields)]  # type: ignore[attr-defined]
    assert repr(cls(*args)) == repr(twin(*args))
    assert cls(*args) == tuple(args) == twin(*args)
    assert pickle.loads(pickle.dumps(cls(*args))) == cls(*args)


_tuplegetter = type(typing.NamedTuple("_P", [("x", int)]).x)


def test_typing_shims_named_tuple_errors_match_typing() -> None:
    """A field without a default after one with, and a forbidden attribute, fail as in typing."""
    for base in (_typing.NamedTuple, typing.NamedTuple):
        errors = []
        for body in ("x: int = 0\n    y: int", "x: int\n    def _replace(self): pass",
                     "x: int = 0\n    z: int = 1\n    y: int"):
            ns: dict[str, Any] = {"B": base}
            try:
                exec(f"class T(B):\n    {body}\n", ns)
            except (TypeError, AttributeError) as e:
                errors.append((type(e).__name__, str(e)))
        if base is _typing.NamedTuple:
            ours = errors
        else:
            assert errors == ours and len(ours) == 3
    with pytest.raises(TypeError, match="can only inherit from a NamedTuple type"):
        exec("class T(B, int):\n    x: int\n", {"B": _typing.NamedTuple})


def test_typing_shims_new_type_is_a_named_identity() -> None:
    """NewType returns its argument, and prints as typing's does (module-qualified)."""
    from highmem.hw.physmem import PhysAddr
    from highmem.kernel.vaddr import VirtAddr

    assert VirtAddr(0xFFF00000) == 0xFFF00000 and type(VirtAddr(3)) is int
    assert repr(VirtAddr) == repr(typing.NewType("VirtAddr", int)).replace(__name__, "highmem.kernel.vaddr")
    assert repr(PhysAddr) == "highmem.hw.physmem.PhysAddr" and PhysAddr.__supertype__ is int
