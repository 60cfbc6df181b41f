"""Layering: the kernel model uses the profile it is handed and never imports the profile registry."""

from __future__ import annotations

import ast
import dataclasses
import pickle
from pathlib import Path

import pytest

import highmem
from highmem.errors import HighmemError
from highmem.kernel.config import make_config
from highmem.kernel.machine import Machine
from highmem.profiles import get_profile

KERNEL = Path(highmem.__file__).parent / "kernel"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


@pytest.mark.parametrize("module", sorted(p.name for p in KERNEL.glob("*.py")))
def test_kernel_module_does_not_import_profiles(module: str) -> None:
    """No module of highmem.kernel imports highmem.profiles (imports point down the layers)."""
    bad = {m for m in _imports(KERNEL / module) if m == "highmem.profiles" or m.startswith("highmem.profiles.")}
    assert bad == set()


def test_machine_boots_the_profile_it_is_handed() -> None:
    """A Profile object that no registry knows boots: the kernel uses what it was given."""
    custom = dataclasses.replace(get_profile("linux-2.4"), name="linux-2.4", nr_cpus_default=4,
                                 version="2.4.22-custom")
    m = Machine(make_config(custom))
    assert (m.profile is custom, m.NR_CPUS) == (True, 4)


def test_kernel_make_config_refuses_a_profile_name() -> None:
    """The kernel's make_config takes a Profile; a name is the registry's business, one sentence."""
    with pytest.raises(HighmemError) as e:
        make_config("linux-2.6")  # type: ignore[arg-type]
    assert str(e.value) == ("'linux-2.6' is not a kernel profile: look one up with highmem.profiles.get_profile "
                            "or call highmem.make_config, which takes a profile name")


def test_config_pickles_with_its_profile() -> None:
    """A configuration sent to a worker process comes back with the same Profile object."""
    cfg = highmem.make_config("linux-5.11", config={"DEBUG_KMAP_LOCAL": True})
    back = pickle.loads(pickle.dumps(cfg))
    assert (back, back.generation is get_profile("linux-5.11")) == (cfg, True)
