"""Record classes: the methods :func:`dataclasses.dataclass` would generate, at a fraction of its
import and class-construction cost.

Why: a ``highmem check NAME`` process is mostly start-up, and the model's 19 public value classes
on that path (``Scenario``, ``KernelConfig``, ``Profile``, ``Finding``, ``Exploration``, ...) were
dataclasses. Importing :mod:`dataclasses` imports :mod:`inspect` (with ``ast``, ``dis`` and
``tokenize``), and decorating one class runs a few hundred Python lines and compiles three to five
functions one by one: together about a third of the process's CPU. :func:`record` compiles a
class's methods in one go and imports nothing.

What stays true, so that callers cannot tell the difference:

- ``__init__``, ``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__``/``__delattr__`` (frozen)
  and ``__match_args__`` behave as dataclasses' (Python 3.11) for the options used here: ``eq``,
  ``frozen``; per field ``default``, ``default_factory``, ``init``, ``repr``, ``compare``,
  ``hash``; ``__post_init__``; fields inherited from record base classes. A method the class
  defines itself is kept, as dataclasses keeps it.
- :mod:`dataclasses`' own functions work on records and their instances (``fields``, ``replace``,
  ``asdict``, ``astuple``, ``is_dataclass``): ``__dataclass_fields__`` and
  ``__dataclass_params__`` are computed, by :mod:`dataclasses` itself, the first time something asks
  for them. Only then is :mod:`dataclasses` imported.
- Assigning to a field of a frozen record raises :class:`FrozenInstanceError`, an
  :class:`AttributeError` as dataclasses' is (but not the same class: that one lives in the module
  this one avoids importing).

tests/test_record.py builds every record class of the model a second time with
:func:`dataclasses.dataclass` and compares the two, method by method.
"""

from __future__ import annotations

from _thread import get_ident

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, dataclass_transform
else:
    def dataclass_transform(**kwargs):  # typing's marker, which only a type checker reads, costs its import
        return lambda f: f

__all__ = ["record", "field", "MISSING", "FrozenInstanceError"]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


#: No default.
MISSING: Any = _Missing()


class _Factory:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<factory>"


#: In ``__init__``: no argument given, call the field's default factory (dataclasses' sentinel, the
#: same ``<factory>`` in a signature).
_HAS_DEFAULT_FACTORY: Any = _Factory()


class FrozenInstanceError(AttributeError):
    """A field of a frozen record was assigned or deleted."""


class Field:
    """One field of a record: name, annotation (a string) and the options of :func:`field`."""

    __slots__ = ("name", "type", "default", "default_factory", "init", "repr", "compare", "hash")

    def __init__(self, default: Any = MISSING, default_factory: Any = MISSING, init: bool = True,
                 repr: bool = True, compare: bool = True, hash: bool | None = None) -> None:
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.name = ""
        self.type: Any = None
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.repr = repr
        self.compare = compare
        self.hash = hash

    def __repr__(self) -> str:
        return f"Field(name={self.name!r}, type={self.type!r}, default={self.default!r})"


def field(*, default: Any = MISSING, default_factory: Callable[[], Any] | Any = MISSING, init: bool = True,
          repr: bool = True, compare: bool = True, hash: bool | None = None) -> Any:
    """A field with options, as :func:`dataclasses.field` (without ``metadata`` and ``kw_only``)."""
    return Field(default, default_factory, init, repr, compare, hash)


_FIELDS = "__record_fields__"
_PARAMS = "__record_params__"


class _FromDataclasses:
    """``__dataclass_fields__`` / ``__dataclass_params__`` of a record, made by :mod:`dataclasses`
    from the record's fields on first access and then stored on the class in its place."""

    def __init__(self, attr: str) -> None:
        self.attr = attr

    def __get__(self, obj: object, cls: type) -> Any:
        import dataclasses

        # A plain subclass of a record inherits its fields, as a subclass of a dataclass does.
        owner = next(c for c in cls.__mro__ if _FIELDS in c.__dict__)
        fields: list[Field] = owner.__dict__[_FIELDS]
        eq, frozen = owner.__dict__[_PARAMS]
        ns: dict[str, Any] = {"__annotations__": {f.name: f.type for f in fields}}
        for f in fields:
            ns[f.name] = dataclasses.field(
                default=dataclasses.MISSING if f.default is MISSING else f.default,
                default_factory=dataclasses.MISSING if f.default_factory is MISSING else f.default_factory,
                init=f.init, repr=f.repr, compare=f.compare, hash=f.hash)
        shadow: Any = dataclasses.dataclass(eq=eq, frozen=frozen)(type(owner.__name__, (), ns))
        for attr in ("__dataclass_fields__", "__dataclass_params__"):
            setattr(owner, attr, shadow.__dict__[attr])
        return owner.__dict__[self.attr]


def _is_classvar(annotation: Any) -> bool:
    return isinstance(annotation, str) and annotation.startswith(("ClassVar", "typing.ClassVar"))


def _collect(cls: type) -> list[Field]:
    fields: dict[str, Field] = {}
    for base in cls.__mro__[-1:0:-1]:
        for f in base.__dict__.get(_FIELDS, ()):
            fields[f.name] = f
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if _is_classvar(annotation):
            continue
        if isinstance(annotation, str) and annotation.startswith(("InitVar", "dataclasses.InitVar")):
            raise TypeError(f"record {cls.__qualname__}: field {name!r} is an InitVar, which record does not support")
        value = cls.__dict__.get(name, MISSING)
        f = value if isinstance(value, Field) else Field(default=value)
        f.name, f.type = name, annotation
        if f.default is not MISSING and f.default.__class__.__hash__ is None:
            # dataclasses' rule: an unhashable default (list, dict, set) would be shared by every instance.
            raise ValueError(f"mutable default {type(f.default)} for field {name} is not allowed: use default_factory")
        if f.default is MISSING:
            if name in cls.__dict__:
                delattr(cls, name)
        else:
            setattr(cls, name, f.default)
        fields[name] = f
    return list(fields.values())


def _tuple(names: list[str], who: str) -> str:
    return "(" + "".join(f"{who}.{n}," for n in names) + ")"


def _sources(cls: type, fields: list[Field], frozen: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The source of ``__init__``, ``__repr__``, ``__eq__`` and ``__hash__`` of ``cls``, and the
    names they use (defaults, factories). Raises TypeError, at class creation as dataclasses does,
    for a field without a default after one with a default."""
    env: dict[str, Any] = {"_HAS_DEFAULT_FACTORY": _HAS_DEFAULT_FACTORY,
                           "__record_object_setattr": object.__setattr__}
    params: list[str] = []
    body: list[str] = []
    seen_default = False
    for f in fields:
        if f.default is not MISSING:
            env[f"_d_{f.name}"] = f.default
        if f.init:
            if f.default is not MISSING:
                params.append(f"{f.name}=_d_{f.name}")
                seen_default = True
            elif f.default_factory is not MISSING:
                params.append(f"{f.name}=_HAS_DEFAULT_FACTORY")
                seen_default = True
            elif seen_default:
                raise TypeError(f"non-default argument {f.name!r} follows default argument")
            else:
                params.append(f.name)
        if f.default_factory is not MISSING:
            env[f"_f_{f.name}"] = f.default_factory
            value = (f"_f_{f.name}() if {f.name} is _HAS_DEFAULT_FACTORY else {f.name}" if f.init
                     else f"_f_{f.name}()")
        elif f.init:
            value = f.name
        elif f.default is not MISSING:
            value = f"_d_{f.name}"
        else:
            continue
        if frozen:
            body.append(f"  __record_object_setattr(self, {f.name!r}, {value})")
        else:
            body.append(f"  self.{f.name} = {value}")
    if hasattr(cls, "__post_init__"):
        body.append("  self.__post_init__()")
    shown = ", ".join(f"{f.name}={{self.{f.name}!r}}" for f in fields if f.repr)
    compared = [f.name for f in fields if f.compare]
    hashed = [f.name for f in fields if (f.compare if f.hash is None else f.hash)]
    return env, {
        "__init__": "\n".join([f"def __init__(self, {', '.join(params)}):", *(body or ["  pass"])]),
        "__repr__": f'def __repr__(self):\n  return self.__class__.__qualname__ + f"({shown})"',
        "__eq__": "\n".join(["def __eq__(self, other):",
                             "  if other.__class__ is self.__class__:",
                             f"    return {_tuple(compared, 'self')} == {_tuple(compared, 'other')}",
                             "  return NotImplemented"]),
        "__hash__": f"def __hash__(self):\n  return hash({_tuple(hashed, 'self')})",
    }


class _Compiled:
    """A generated method of a record, compiled the first time it is looked up, which then takes
    this placeholder's place on the class. ``__init__`` is compiled at once; ``__repr__``,
    ``__eq__`` and ``__hash__`` on first use.

    Why: compiling is most of what making a record costs, and a process uses few of these
    methods (a ``highmem check`` compares or prints almost no record).
    """

    __slots__ = ("owner", "name", "env", "source", "annotations")

    def __init__(self, owner: type, name: str, env: dict[str, Any], source: str,
                 annotations: dict[str, Any]) -> None:
        self.owner, self.name, self.env, self.source = owner, name, env, source
        self.annotations = annotations

    def __get__(self, obj: object, cls: type | None = None) -> Any:
        env = dict(self.env)
        exec(self.source, env)
        fn = env[self.name]
        fn.__qualname__ = f"{self.owner.__qualname__}.{self.name}"
        fn.__module__ = self.owner.__module__
        fn.__annotations__ = self.annotations
        if self.name == "__repr__":
            fn = _guard_recursion(fn)
        setattr(self.owner, self.name, fn)
        return fn if obj is None else fn.__get__(obj, cls)


def _guard_recursion(fn: Callable[[Any], str]) -> Callable[[Any], str]:
    """``...`` for a record met again while its own repr is being built, as reprlib.recursive_repr."""
    running: set[tuple[int, int]] = set()

    def __repr__(self: Any) -> str:
        key = (id(self), get_ident())
        if key in running:
            return "..."
        running.add(key)
        try:
            return fn(self)
        finally:
            running.discard(key)

    __repr__.__qualname__ = fn.__qualname__
    __repr__.__module__ = fn.__module__
    __repr__.__wrapped__ = fn  # type: ignore[attr-defined]
    return __repr__


def _frozen_methods(cls: Any, names: frozenset[str]) -> tuple[Any, Any]:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    for fn in (__setattr__, __delattr__):
        fn.__qualname__ = f"{cls.__qualname__}.{fn.__name__}"
    return __setattr__, __delattr__


def _process(cls: type, eq: bool, frozen: bool) -> type:
    fields = _collect(cls)
    setattr(cls, _FIELDS, fields)
    setattr(cls, _PARAMS, (eq, frozen))
    for attr in ("__dataclass_fields__", "__dataclass_params__"):
        setattr(cls, attr, _FromDataclasses(attr))
    own = cls.__dict__
    env, sources = _sources(cls, fields, frozen)

    def made(name: str) -> _Compiled:
        # dataclasses annotates __init__ with the fields' types (strings here) and returns None.
        annotations = {**{f.name: f.type for f in fields if f.init}, "return": None} if name == "__init__" else {}
        return _Compiled(cls, name, env, sources[name], annotations)

    # dataclasses' table for unsafe_hash=False: a class's own __hash__ stays; with eq, a frozen record
    # hashes its compared fields and a mutable one is unhashable; without eq, object's hash is kept.
    explicit_hash = "__hash__" in own and (own["__hash__"] is not None or "__eq__" not in own)
    if "__init__" not in own:
        # Compiled now: tools that read the class's __dict__ (pdoc, for the signature it documents)
        # must find a function there, and almost every record is constructed anyway.
        made("__init__").__get__(None, cls)
    if "__repr__" not in own:
        cls.__repr__ = made("__repr__")  # type: ignore[method-assign,assignment]
    if eq:
        if "__eq__" not in own:
            cls.__eq__ = made("__eq__")  # type: ignore[method-assign,assignment]
        if not explicit_hash:
            cls.__hash__ = made("__hash__") if frozen else None  # type: ignore[method-assign,assignment]
    if frozen:
        if "__setattr__" in own or "__delattr__" in own:
            raise TypeError(f"cannot overwrite __setattr__ or __delattr__ of frozen record {cls.__qualname__}")
        cls.__setattr__, cls.__delattr__ = _frozen_methods(  # type: ignore[method-assign,assignment]
            cls, frozenset(f.name for f in fields))
    if "__match_args__" not in own:
        setattr(cls, "__match_args__", tuple(f.name for f in fields if f.init))  # noqa: B010
    if cls.__doc__ is None:
        cls.__doc__ = cls.__name__ + "(" + ", ".join(
            f.name if f.default is MISSING else f"{f.name}={f.default!r}" for f in fields if f.init) + ")"
    return cls


@dataclass_transform(field_specifiers=(field, Field))
def record(cls: Any = None, /, *, eq: bool = True, frozen: bool = False) -> Any:
    """Make ``cls`` a record, as ``@dataclasses.dataclass(eq=eq, frozen=frozen)`` would.

    Any context (module import). ``@record`` or ``@record(frozen=True)``.
    """
    if cls is None:
        return lambda c: _process(c, eq, frozen)
    return _process(cls, eq, frozen)
