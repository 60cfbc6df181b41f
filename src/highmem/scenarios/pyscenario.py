"""Python scenarios: a user's module whose function returns a :class:`Scenario`.

Only ever imported for a name the user gave (``file.py``, ``file.py:function``,
``module:function``): a TOML or built-in scenario needs none of this, nor ``importlib.util``.
"""

from __future__ import annotations

import sys

from highmem.errors import HighmemError
from highmem.scenarios.model import Scenario
from highmem.scenarios.names import check_name
from highmem.sha import sha256_hex

__all__ = ["load_python"]


def load_python(spec: str) -> Scenario:
    """Import a Python scenario: ``file.py`` or ``file.py:function`` or ``module:function``.

    The function (default ``scenario``) takes no arguments and returns a
    :class:`Scenario`.  Only ever called for a name the user gave.
    """
    import importlib.util
    from pathlib import Path

    target, _, func = spec.partition(":")
    func = func or "scenario"
    if target.endswith(".py"):
        path = Path(target)
        if not path.exists():
            raise HighmemError(f"Python scenario {target!r} does not exist")
        modname = "highmem_user_scenario_" + sha256_hex(str(path.resolve()).encode())[:12]
        mod_spec = importlib.util.spec_from_file_location(modname, path)
        if mod_spec is None or mod_spec.loader is None:
            raise HighmemError(f"Python scenario {target!r} cannot be imported")
        module = importlib.util.module_from_spec(mod_spec)
        sys.modules[modname] = module
        source_text = path.read_text(encoding="utf-8")
        try:
            mod_spec.loader.exec_module(module)
        except Exception as e:
            raise HighmemError(f"Python scenario {target!r} fails to import: {type(e).__name__}: {e}") from None
    else:
        try:
            module = importlib.import_module(target)
        except Exception as e:
            raise HighmemError(f"Python scenario module {target!r} cannot be imported: {e}") from None
        source_text = Path(module.__file__ or "").read_text(encoding="utf-8") if module.__file__ else target
    fn = getattr(module, func, None)
    if not callable(fn):
        raise HighmemError(f"Python scenario {spec!r} has no function {func!r} returning a Scenario")
    try:
        sc = fn()
    except Exception as e:
        raise HighmemError(f"Python scenario {spec!r}: {func}() raised {type(e).__name__}: {e}") from None
    if not isinstance(sc, Scenario):
        raise HighmemError(f"Python scenario {spec!r}: {func}() must return a highmem.scenarios.Scenario")
    sc.python = True
    sc.source = spec
    try:
        check_name("scenario name", sc.name)
        for pg in sc.pages:
            check_name("page name", pg.name)
        for c in sc.contexts:
            check_name(f"{c.kind} name", c.name, reserved=True)
        for d in sc.devices:
            check_name("device name", d.name)
            check_name(f"device {d.name} irq", d.irq, reserved=True)
    except HighmemError as e:
        raise HighmemError(f"Python scenario {spec!r}: {e}") from None
    for c in sc.contexts:
        if c.fn is None and c.ops is None:
            raise HighmemError(f"Python scenario {spec!r}: context {c.name} has neither fn nor ops")
    sc.digest = "sha256:" + sha256_hex(source_text.encode())[:32]
    return sc
