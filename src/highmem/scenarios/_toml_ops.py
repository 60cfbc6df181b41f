"""Checking a context's operation lists: each operation's fields, what it names, and what it binds.

:func:`check_ops` walks a ``[[task]]``, ``[[irq]]`` or ``[[softirq]]`` table's ``ops`` in order (into
``repeat`` bodies), keeping the variables bound so far (``as = ...``) and what each holds, and
refuses the first operation that is malformed, names something the scenario does not declare, or
uses a variable before an operation binds it; the tables it checks against are
:mod:`highmem.scenarios._toml_tables`'s.
"""

from __future__ import annotations

from highmem.errors import HighmemError
from highmem.hw.physmem import PAGE_SIZE
from highmem.kernel.kmap_types import unknown_km_type_message
from highmem.scenarios._toml_check import Ctx, want, want_name
from highmem.scenarios.limits import MAX_ACCESS, MAX_NESTING, static_steps
from highmem.scenarios.ops import OP_FIELDS, to_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["check_ops"]

_INT_FIELDS = {"offset", "repeat", "size", "dst_offset", "src_offset", "cpu", "steps", "count"}
_STR_FIELDS = {"page", "type", "as", "flags", "queue", "irq", "softirq", "completion", "device", "rw", "bh",
               "lock"}
_INT_FIELDS_EXTRA = {"block"}
_ADDR_FIELDS = {"addr", "dst", "src"}
_KIND_TEXT = {"addr": "an address", "bh": "a buffer_head", "flags": "saved flags"}
#: String fields of operations that name something (checked as names; see highmem.scenarios.names).
_NAME_FIELDS = _STR_FIELDS - {"type", "rw"}


def check_ops(cx: Ctx, kind: str, k: int, ops: list[Any], counter: list[int], env: dict[str, str],
              pages: set[str], km_names: set[str], declared: dict[str, set[str]], ncpu: int,
              devices: dict[str, Any], depth: int = 0) -> None:
    """Check ``ops`` of the ``k``-th ``[[kind]]``; ``counter[0]`` counts its ``op =`` lines, ``env`` its variables."""
    for op in ops:
        line = cx.lines.op(kind, k, counter[0])
        counter[0] += 1
        if not isinstance(op, dict) or "op" not in op:
            raise cx.fail(line, f"each operation must be a table with an 'op' key, not {op!r}")
        name = op["op"]
        if not isinstance(name, str) or name not in OP_FIELDS:
            raise cx.fail(line, f"unknown operation {name!r}: operations are {', '.join(sorted(OP_FIELDS))}")
        required, optional = OP_FIELDS[name]
        for f in op:
            if f != "op" and f not in required and f not in optional:
                allowed = ", ".join(sorted(required | optional)) or "no fields"
                raise cx.fail(line, f"operation {name} has unknown field {f!r}: it takes {allowed}")
        for f in required:
            if f not in op:
                raise cx.fail(line, f"operation {name} needs field {f!r}")
        for f, v in op.items():
            if f in _INT_FIELDS or f in _INT_FIELDS_EXTRA:
                want(cx, line, f"{name} {f}", v, int)
                if v < 0:
                    raise cx.fail(line, f"{name} {f} must not be negative")
            elif f in _STR_FIELDS:
                want(cx, line, f"{name} {f}", v, str)
                if f in _NAME_FIELDS:
                    want_name(cx, line, f"{name} {f}", v)
            elif f in _ADDR_FIELDS:
                want(cx, line, f"{name} {f}", v, (str, int))
                if isinstance(v, str) and v not in env:
                    raise cx.fail(line, f"{name} uses {f} {v!r} before any operation of this context binds it "
                                  "(with as = ...)")
                if isinstance(v, str) and env[v] != "addr":
                    raise cx.fail(line, f"{name} uses {f} {v!r}, which holds {_KIND_TEXT[env[v]]}, not an address")
            elif f in ("data", "expect"):
                try:
                    b = to_bytes(v, f"{name} {f}")
                except HighmemError as e:
                    raise cx.fail(line, str(e)) from None
                if not b:
                    raise cx.fail(line, f"{name} {f} is empty: give at least one byte")
        if name == "repeat":
            # The body first: everything below may look into it.
            if not isinstance(op["ops"], list):
                raise cx.fail(line, "repeat ops must be an array of operations")
            if depth + 1 > MAX_NESTING:
                raise cx.fail(line, f"repeat is nested {depth + 1} deep: the limit is {MAX_NESTING} levels")
            # A body that runs no time binds nothing the operations after it could use.
            body_env = env if op["count"] > 0 else dict(env)
            check_ops(cx, kind, k, op["ops"], counter, body_env, pages, km_names, declared, ncpu, devices,
                      depth + 1)
        if "page" in op and op["page"] not in pages:
            raise cx.fail(line, f"{name} names page {op['page']!r}, which [pages] does not define")
        if "type" in op and op["type"] not in km_names:
            raise cx.fail(line, unknown_km_type_message(op["type"], cx.km_order, cx.km_label))
        if name == "load" and "size" not in op and "expect" not in op:
            raise cx.fail(line, "load needs a size or an expect")
        if name == "load" and "size" in op and op["size"] == 0:
            raise cx.fail(line, "load size must be at least 1")
        if "flags" in op and op["flags"] not in env:
            raise cx.fail(line, f"{name} uses flags {op['flags']!r} before save_flags or local_irq_save binds it")
        if "flags" in op and env[op["flags"]] != "flags":
            raise cx.fail(line, f"{name} uses flags {op['flags']!r}, which holds {_KIND_TEXT[env[op['flags']]]}, "
                          "not saved flags")
        if name == "repeat" and isinstance(op.get("ops"), list) and op["count"] > 1 and static_steps(op["ops"]) == 0:
            raise cx.fail(line, "repeat body takes no step (no operation, or work with steps = 0): it would loop "
                          "without reaching a scheduling point")
        size = op.get("size", 0)
        if name == "store":
            try:
                size = len(to_bytes(op["data"], "store data")) * op.get("repeat", 1)
            except HighmemError:
                size = 0
        if size > MAX_ACCESS:
            raise cx.fail(line, f"{name} of {size} bytes is too large: one access moves at most {MAX_ACCESS} bytes")
        if "cpu" in op and not 0 <= op["cpu"] < ncpu:
            raise cx.fail(line, f"{name} targets CPU {op['cpu']}, which does not exist")
        if name == "raise_irq" and op["irq"] in {d.irq for d in devices.values()}:
            raise cx.fail(line, f"raise_irq names {op['irq']!r}, a device's interrupt line: the device raises it "
                          "when a request completes")
        if name == "raise_irq" and op["irq"] not in declared["irq"]:
            raise cx.fail(line, f"raise_irq names interrupt {op['irq']!r}, which no [[irq]] declares")
        if name in ("raise_irq", "raise_softirq") and "cpu" in op:
            target = op["irq"] if name == "raise_irq" else op["softirq"]
            routed = cx.routes.get((name, target))
            if routed is not None and op["cpu"] not in routed:
                raise cx.fail(line, f"{name} sends {target!r} to CPU {op['cpu']}, but it is declared on CPU "
                              f"{sorted(routed)[0]}")
        if name == "store" and op.get("repeat", 1) < 1:
            raise cx.fail(line, "store repeat must be at least 1")
        if name == "load" and "size" in op and "expect" in op:
            try:
                n = len(to_bytes(op["expect"], "load expect"))
            except HighmemError:
                n = op["size"]
            if n != op["size"]:
                raise cx.fail(line, f"load size {op['size']} differs from the {n} bytes of expect: drop size or "
                              "make them agree")
        if name == "raise_softirq" and op["softirq"] not in declared["softirq"]:
            raise cx.fail(line, f"raise_softirq names softirq {op['softirq']!r}, which no [[softirq]] declares")
        if kind != "task" and name in ("schedule", "sleep", "exit"):
            pass  # legal to write: the kernel BUGs, and the checker reports it
        if name == "submit_bh":
            dev = devices.get(op["device"])
            if dev is None:
                raise cx.fail(line, f"submit_bh names device {op['device']!r}, which no [[device]] declares")
            if op["rw"].lower() not in ("read", "write"):
                raise cx.fail(line, f"submit_bh rw must be \"read\" or \"write\", not {op['rw']!r}")
            if op["block"] >= dev.nblocks:
                raise cx.fail(line, f"submit_bh block {op['block']} does not exist on {dev.name} "
                              f"(blocks 0 to {dev.nblocks - 1})")
            if op.get("offset", 0) + dev.block_size > PAGE_SIZE:
                raise cx.fail(line, f"submit_bh offset {op.get('offset', 0)} puts the {dev.block_size}-byte block "
                              "outside the page")
            env[str(op.get("as", f"bh{op['block']}"))] = "bh"
        if name == "wait_on_buffer" and op["bh"] not in env:
            raise cx.fail(line, f"wait_on_buffer uses bh {op['bh']!r} before a submit_bh binds it")
        if name == "wait_on_buffer" and env[op["bh"]] != "bh":
            raise cx.fail(line, f"wait_on_buffer uses bh {op['bh']!r}, which holds {_KIND_TEXT[env[op['bh']]]}, "
                          "not a buffer_head")
        if name in ("kmap_atomic", "kmap", "kmap_nonblock", "kmap_local_page", "page_address"):
            env[str(op.get("as", op["page"]))] = "addr"
        elif name in ("save_flags", "local_irq_save"):
            env[str(op["as"])] = "flags"
