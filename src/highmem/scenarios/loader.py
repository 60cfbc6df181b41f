"""Loading TOML scenarios (declarative, never executing code), and choosing a file's loader.

A TOML scenario is checked completely before anything runs: every table,
field, type, page, CPU, km type, variable, interrupt and queue.  The first
problem is reported as one sentence naming the file, the line where it can
be found, and the rule (a :class:`~highmem.errors.HighmemError`).

A Python scenario (``path/to/file.py`` or ``package.module:function``) is
:mod:`highmem.scenarios.pyscenario`'s, imported only when the user names one.
The bounds every scenario is held to are in :mod:`highmem.scenarios.limits`.

The checks are in three modules below this one: :mod:`highmem.scenarios._toml_check` (the line
finder and the per-file context every check fails through), :mod:`highmem.scenarios._toml_tables`
(one function per table) and :mod:`highmem.scenarios._toml_ops` (the operation lists).
"""

from __future__ import annotations

from highmem.errors import HighmemError
from highmem.scenarios._toml_check import Ctx, Lines, parse_toml
from highmem.scenarios._toml_tables import (
    check_config,
    check_contexts,
    check_devices,
    check_expect_blocks,
    check_expects,
    check_handlers,
    check_machine,
    check_pages,
    check_scenario,
    check_top_level,
)
from highmem.scenarios.limits import MAX_SCENARIO_BYTES
from highmem.scenarios.model import Scenario

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

# pathlib, tomllib and hashlib are not imported here: a built-in scenario needs none of them (its
# parsed form is cached, see highmem.scenarios.parsed), and together they cost most of a
# ``python -c pass``. User files import pathlib and tomllib where they are read.

__all__ = ["load_toml", "load_toml_text", "load_scenario_file"]


def load_toml(path: str | Path) -> Scenario:
    """Load and fully check the TOML scenario at ``path``."""
    from pathlib import Path

    p = Path(path)
    try:
        with open(p, "rb") as f:
            raw = f.read(MAX_SCENARIO_BYTES + 1)
        if len(raw) > MAX_SCENARIO_BYTES:
            raise HighmemError(f"scenario file {str(p)!r} is larger than the limit of {MAX_SCENARIO_BYTES} bytes")
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise HighmemError(f"scenario file {str(p)!r} does not exist: name a built-in or an existing file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise HighmemError(f"scenario file {str(p)!r} cannot be read: {e}") from None
    return load_toml_text(text, str(p))


def load_toml_text(text: str, where: str = "<scenario>") -> Scenario:
    """Parse and check scenario ``text``; ``where`` names it in errors."""
    lines = Lines(text)
    cx = Ctx(where, lines)
    if len(text) > MAX_SCENARIO_BYTES:
        raise cx.fail(None, f"the scenario is {len(text)} characters long, more than the limit of "
                      f"{MAX_SCENARIO_BYTES}")
    from highmem.scenarios.parsed import cached_doc

    doc = cached_doc(text)
    if doc is None:
        doc = parse_toml(cx, text)
    check_top_level(cx, doc)
    head, name, expect_kinds, max_steps = check_scenario(cx, doc)
    machine = check_machine(cx, doc)
    sc = Scenario(name=name, description=str(head.get("description", "")), source=where,
                  reference=str(head.get("reference", "")), machine=machine, expect=list(expect_kinds),
                  max_steps=max_steps)
    cfg, km_names = check_config(cx, sc)
    check_pages(cx, doc, sc)
    check_devices(cx, doc, sc, cfg.cpus, km_names)
    declared = check_handlers(cx, doc, sc)
    check_contexts(cx, doc, sc, declared, cfg.cpus, km_names)
    check_expects(cx, doc, sc)
    check_expect_blocks(cx, doc, sc)
    sc.digest = sc.compute_digest()
    return sc


def load_scenario_file(spec: str) -> Scenario:
    """A scenario by file name: ``.toml`` or Python (``.py`` / ``module:function``)."""
    if spec.endswith(".toml"):
        return load_toml(spec)
    if spec.endswith(".py") or ":" in spec:
        from highmem.scenarios.pyscenario import load_python

        return load_python(spec)
    raise HighmemError(f"scenario {spec!r} is neither a built-in name, a .toml file, nor a Python scenario "
                       "(file.py or module:function); `highmem scenarios` lists the built-ins")
