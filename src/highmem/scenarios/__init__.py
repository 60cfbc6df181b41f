"""Workloads: the built-in scenario library and the loaders for user scenarios."""

from __future__ import annotations

import os

from highmem.errors import HighmemError
from highmem.scenarios.loader import load_scenario_file, load_toml, load_toml_text
from highmem.scenarios.model import ContextSpec, ExpectSpec, PageSpec, Scenario
from highmem.scenarios.pyscenario import load_python

__all__ = ["Scenario", "ContextSpec", "PageSpec", "ExpectSpec", "builtin_names", "load_builtin",
           "resolve", "load_toml", "load_toml_text", "load_python"]


#: The built-in scenarios' directory (package data beside this module; plain files, as the
#: package is installed unzipped).  importlib.resources would cost a fifth of a start-up.
_BUILTIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "builtin")


def builtin_names() -> list[str]:
    """Names of the built-in scenarios, sorted."""
    return sorted(n[: -len(".toml")] for n in os.listdir(_BUILTIN) if n.endswith(".toml"))


def load_builtin(name: str) -> Scenario:
    """The built-in scenario ``name``."""
    f = os.path.join(_BUILTIN, f"{name}.toml")
    if "/" in name or os.sep in name or not os.path.isfile(f):
        raise HighmemError(f"scenario {name!r} is not built in: `highmem scenarios` lists "
                           f"{', '.join(builtin_names())}")
    with open(f, encoding="utf-8") as fh:
        text = fh.read()
    sc = load_toml_text(text, f"builtin:{name}")
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
