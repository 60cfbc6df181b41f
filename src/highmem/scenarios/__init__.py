"""Workloads: the built-in scenario library and the loaders for user scenarios."""

from __future__ import annotations

from importlib import resources

from highmem.errors import HighmemError
from highmem.scenarios.loader import load_python, load_scenario_file, load_toml, load_toml_text
from highmem.scenarios.model import ContextSpec, ExpectSpec, PageSpec, Scenario

__all__ = ["Scenario", "ContextSpec", "PageSpec", "ExpectSpec", "builtin_names", "load_builtin",
           "resolve", "load_toml", "load_toml_text", "load_python"]


def builtin_names() -> list[str]:
    """Names of the built-in scenarios, sorted."""
    root = resources.files("highmem.scenarios") / "builtin"
    return sorted(p.name[: -len(".toml")] for p in root.iterdir() if p.name.endswith(".toml"))


def load_builtin(name: str) -> Scenario:
    """The built-in scenario ``name``."""
    root = resources.files("highmem.scenarios") / "builtin"
    f = root / f"{name}.toml"
    if not f.is_file():
        raise HighmemError(f"scenario {name!r} is not built in: `highmem scenarios` lists "
                           f"{', '.join(builtin_names())}")
    sc = load_toml_text(f.read_text(encoding="utf-8"), f"builtin:{name}")
    sc.source = f"builtin:{name}"
    return sc


def resolve(spec: str) -> Scenario:
    """A built-in name, a TOML file, or a Python scenario."""
    if spec in builtin_names():
        return load_builtin(spec)
    if "/" not in spec and not spec.endswith((".toml", ".py")) and ":" not in spec:
        raise HighmemError(f"scenario {spec!r} is not built in and is not a file: `highmem scenarios` lists "
                           f"{', '.join(builtin_names())}")
    return load_scenario_file(spec)
