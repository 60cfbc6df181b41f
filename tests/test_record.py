"""Records (highmem._record) behave as the dataclasses they replace: each model record class is
built a second time from its own source with ``dataclasses.dataclass`` and the two are compared."""

from __future__ import annotations
import __future__

import dataclasses
import importlib
import inspect
import pickle
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

import highmem
from highmem._record import FrozenInstanceError, field, record

#: Every module whose value classes are records.
MODULES = ["highmem.kernel.config", "highmem.kernel.bounce", "highmem.kernel.profile", "highmem.sim.findings",
           "highmem.sim.workload", "highmem.sim.explore", "highmem.scenarios.model", "highmem.hw.pagetable",
           "highmem.hw.blockdev", "highmem.sim.compare", "highmem.report.locate", "highmem.report.timeline_model",
           "highmem.report.sarif"]


def _records() -> list[type]:
    out = []
    for name in MODULES:
        mod = importlib.import_module(name)
        out += [c for c in vars(mod).values()
                if isinstance(c, type) and c.__module__ == name and "__record_fields__" in c.__dict__]
    return out


RECORDS = _records()


def _twin(cls: type) -> type:
    """The same class statement, decorated by dataclasses instead (in the module's namespace)."""
    mod = importlib.import_module(cls.__module__)
    ns = dict(vars(mod), record=dataclasses.dataclass, field=dataclasses.field)
    # Compiled as its module is: with or without ``from __future__ import annotations``.
    flags = __future__.annotations.compiler_flag if vars(mod).get("annotations") is __future__.annotations else 0
    exec(compile(textwrap.dedent(inspect.getsource(cls)), mod.__file__ or "?", "exec", flags, dont_inherit=True), ns)
    twin = ns[cls.__name__]
    assert twin is not cls and dataclasses.is_dataclass(twin)
    return twin


def _args(cls: type) -> list[Any]:
    # Distinct hashable values; Geometry's __post_init__ looks its entry size (the 8th) up: 8 is one.
    return [i + 1 for i, f in enumerate(dataclasses.fields(cls)) if f.init and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING]


def _same(value: Any) -> Any:
    # The twin's lambdas are other function objects with the same code.
    if isinstance(value, dict):
        return {k: _same(v) for k, v in value.items()}
    code = getattr(value, "__code__", None)
    return (value.__qualname__, code.co_code, code.co_consts) if code is not None else value


def _outcome(fn: Any, *args: Any) -> Any:
    try:
        return ("ok", _same(fn(*args)))
    except Exception as e:  # the exception's type and text are what is compared
        return (type(e).__name__ if not isinstance(e, AttributeError) else "AttributeError", str(e))


def _replace(obj: Any, changes: dict[str, Any]) -> Any:
    return dataclasses.replace(obj, **changes)


def _signature(obj: Any) -> str:
    return re.sub(r" at 0x[0-9a-f]+", "", str(inspect.signature(obj)))


def _field_facts(cls: type) -> list[tuple[Any, ...]]:
    return [(f.name, f.type, _same(f.default), _same(f.default_factory), f.init, f.repr, f.compare, f.hash)
            for f in dataclasses.fields(cls)]


def test_record_modules_hold_every_record() -> None:
    """The model's and the reports' value classes are all records (and the test sees all 27); only the
    scanner's are dataclasses."""
    assert len(RECORDS) == 27
    src = Path(highmem.__file__).parent
    users = sorted(str(p.relative_to(src)) for p in src.rglob("*.py") if "@dataclass" in p.read_text())
    assert [u for u in users if not u.startswith("scan/") and u != "_record.py"] == []


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__qualname__)
def test_record_matches_dataclass(cls: type) -> None:
    """Signature, fields, class defaults, repr, ==, hash, frozenness, replace and asdict as dataclasses'."""
    twin = _twin(cls)
    assert _signature(cls) == _signature(twin)
    # What reads the class's __dict__ (pdoc documents the constructor from it) finds the function there.
    assert _signature(vars(cls)["__init__"]) == _signature(vars(twin)["__init__"])
    assert _field_facts(cls) == _field_facts(twin)
    assert dataclasses.fields(cls)[0].name == list(cls.__record_fields__)[0].name  # type: ignore[attr-defined]
    assert cls.__match_args__ == twin.__match_args__  # type: ignore[attr-defined]
    for f in dataclasses.fields(twin):
        assert _outcome(lambda n=f.name: getattr(cls, n)) == _outcome(lambda n=f.name: getattr(twin, n))
    args = _args(cls)
    a, b = cls(*args), twin(*args)
    assert _outcome(lambda: repr(a)) == _outcome(lambda: repr(b))
    assert (a == cls(*args)) == (b == twin(*args))
    assert a.__eq__(object()) is NotImplemented and b.__eq__(object()) is NotImplemented
    assert (cls.__hash__ is None) == (twin.__hash__ is None)
    if cls.__hash__ is not None:
        assert _outcome(lambda: hash(a) == hash(cls(*args))) == _outcome(lambda: hash(b) == hash(twin(*args)))
    for f in dataclasses.fields(twin):
        marker = object()
        assert _outcome(setattr, a, f.name, marker) == _outcome(setattr, b, f.name, marker)
        if not f.init:
            continue
        new = {f.name: (len(args) + 100,)}
        a2 = _outcome(_replace, cls(*args), new)
        b2 = _outcome(_replace, twin(*args), new)
        assert a2[0] == b2[0]
        if a2[0] == "ok":
            assert _outcome(repr, a2[1]) == _outcome(repr, b2[1])
            assert (a2[1] == cls(*args)) == (b2[1] == twin(*args)), f.name
    assert _outcome(lambda: dataclasses.asdict(cls(*args))) == _outcome(lambda: dataclasses.asdict(twin(*args)))


def test_record_frozen_assignment_raises_attribute_error() -> None:
    """Assigning or deleting a field of a frozen record raises FrozenInstanceError, an AttributeError."""
    from highmem.kernel.config import KernelConfig

    c = KernelConfig()
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'cpus'"):
        c.cpus = 4  # type: ignore[misc]
    with pytest.raises(AttributeError, match="cannot delete field 'cpus'"):
        del c.cpus  # type: ignore[misc]


def test_record_errors_at_class_creation_match_dataclasses() -> None:
    """A mutable default and a required field after a defaulted one fail as dataclasses fail."""
    for deco in (record, dataclasses.dataclass):
        with pytest.raises(ValueError) as mutable:
            deco(type("M", (), {"__annotations__": {"x": "list[int]"}, "x": []}))
        with pytest.raises(TypeError) as order:
            deco(type("O", (), {"__annotations__": {"x": "int", "y": "int"}, "x": 0}))
        if deco is record:
            ours = (str(mutable.value), str(order.value))
        else:
            assert (str(mutable.value), str(order.value)) == ours


def test_record_keeps_methods_the_class_defines() -> None:
    """A class's own __eq__, __hash__ and __repr__ stay, as with dataclasses."""

    @record(frozen=True)
    class P:
        x: int

        def __eq__(self, other: object) -> bool:
            return True

        def __hash__(self) -> int:
            return 7

        def __repr__(self) -> str:
            return "mine"

    assert P(1) == P(2) and hash(P(1)) == 7 and repr(P(1)) == "mine"


def test_record_inherits_fields_and_runs_post_init() -> None:
    """A record subclass of a record has the base's fields first; __post_init__ runs after them."""

    @record
    class Base:
        a: int
        b: list[int] = field(default_factory=list)

    @record
    class Sub(Base):
        c: int = 3
        d: int = field(init=False, default=0)

        def __post_init__(self) -> None:
            self.d = self.a + self.c

    s = Sub(1)
    assert repr(s) == "test_record_inherits_fields_and_runs_post_init.<locals>.Sub(a=1, b=[], c=3, d=4)"
    assert [f.name for f in dataclasses.fields(s)] == ["a", "b", "c", "d"]
    assert Sub(1).b is not Sub(1).b
    assert Sub(1) == Sub(1) and Sub(1) != Sub(2) and Sub.__hash__ is None


def test_record_repr_of_a_cycle_ends() -> None:
    """A record that contains itself prints ``...`` for the inner occurrence, as reprlib does."""

    @record
    class Node:
        next: Any = None

    n = Node()
    n.next = n
    assert repr(n) == "test_record_repr_of_a_cycle_ends.<locals>.Node(next=...)"


def test_record_pickles() -> None:
    """A frozen record and a mutable one survive pickling (they travel to worker processes)."""
    from highmem.scenarios import load_builtin
    from highmem.sim.findings import Finding

    f = Finding("stale-access", "m", cpu=1, contexts=["t"], slot={"idx": 3}, pages=[5], steps=[1, 2])
    assert pickle.loads(pickle.dumps(f)) == f
    sc = load_builtin("copy-highpage")
    assert pickle.loads(pickle.dumps(sc.pages[0])) == sc.pages[0]
    cfg = sc.config()
    assert pickle.loads(pickle.dumps(cfg)) == cfg


def test_record_finding_to_dict_copies_like_asdict() -> None:
    """Finding.to_dict gives what dataclasses.asdict gave, stack omitted when empty, and copies."""
    from highmem.sim.findings import Finding

    f = Finding("stale-access", "m", cpu=1, contexts=["t"], slot={"idx": 3, "vaddr": 0xFFF00000}, pages=[5],
                steps=[1, 2])
    d = f.to_dict()
    expected = dataclasses.asdict(f)
    del expected["stack"]
    assert d == expected and list(d) == list(expected)
    assert d["slot"] is not f.slot and d["contexts"] is not f.contexts
    f.stack = "bt"
    assert f.to_dict() == dataclasses.asdict(f)
