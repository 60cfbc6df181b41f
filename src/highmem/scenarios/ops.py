"""The operations of TOML scenarios and their interpreter.

Each operation is one inline table with an ``op`` key; it executes as the
kernel primitive of the same name in the context that runs it, so each is
one step and a scheduling point (``work`` is ``steps`` of them, ``repeat``
runs its ``ops`` ``count`` times).  Values named by ``as`` (an address from
``kmap_atomic``, flags from ``save_flags``) are variables of that context.

============== ==========================================================
op             fields (required *, optional)
============== ==========================================================
kmap_atomic    page*, type*, as (default: the page's name)
kunmap_atomic  addr*, type*
store          addr*, data*, offset=0, repeat=1
load           addr*, size or expect, offset=0, expect
kmap           page*, as   (permanent kmap: may sleep; process context only)
kmap_local_page page*, as  (linux-5.11: per-task stack slot, preemptible)
kunmap_local   addr*
kmap_nonblock  page*, as   (0 instead of sleeping)
kunmap         page*
submit_bh      device*, rw* ("read"/"write"), page*, block*, offset=0, as  (a buffer_head)
wait_on_buffer bh*   (sleeps until the device's interrupt completes it)
spin_lock / spin_unlock / spin_lock_irq / spin_unlock_irq   lock*
copy           dst*, src*, size=4096, dst_offset=0, src_offset=0
cli / sti      -
save_flags     as*   (also local_irq_save, which then disables interrupts)
restore_flags  flags*  (also local_irq_restore)
local_bh_disable / local_bh_enable
schedule       -
sleep          queue*
wake           queue*
exit           -
raise_irq      irq*, cpu
raise_softirq  softirq*, cpu
flush_tlb_one  addr*
flush_tlb_all  -
work           steps=1   (other kernel work: that many steps)
page_address   page*, as*   (the direct-map address of a lowmem page)
wait_for_completion  completion*   (sleeps until complete(); counts, so no lost wake-ups)
complete       completion*
repeat         count*, ops*
============== ==========================================================

``addr`` names a variable or is an integer address; ``data`` and ``expect``
are strings (stored as UTF-8) or arrays of byte values.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from highmem.errors import HighmemError
from highmem.hw.physmem import Page
from highmem.kernel.machine import Machine
from highmem.sim.findings import Finding

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from highmem.scenarios.model import ContextSpec, Scenario

__all__ = ["OP_FIELDS", "OP_STARTS", "compile_ops", "to_bytes"]

#: When set while a workload is compiled, every operation is wrapped to call it first with the
#: machine, the context's spec and the operation's index in the context's ops in reading order
#: (a ``repeat`` before its own ops).  Only the locators of reports set it, on one replayed run:
#: explorations compile unwrapped operations and pay nothing.
OP_STARTS: ContextVar[Callable[[Machine, ContextSpec, int], None] | None] = ContextVar("OP_STARTS", default=None)

#: op -> (required fields, optional fields)
OP_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "kmap_atomic": (frozenset({"page", "type"}), frozenset({"as"})),
    "kunmap_atomic": (frozenset({"addr", "type"}), frozenset()),
    "store": (frozenset({"addr", "data"}), frozenset({"offset", "repeat"})),
    "load": (frozenset({"addr"}), frozenset({"size", "offset", "expect"})),
    "copy": (frozenset({"dst", "src"}), frozenset({"size", "dst_offset", "src_offset"})),
    "cli": (frozenset(), frozenset()),
    "sti": (frozenset(), frozenset()),
    "save_flags": (frozenset({"as"}), frozenset()),
    "restore_flags": (frozenset({"flags"}), frozenset()),
    "local_irq_save": (frozenset({"as"}), frozenset()),
    "local_irq_restore": (frozenset({"flags"}), frozenset()),
    "local_bh_disable": (frozenset(), frozenset()),
    "local_bh_enable": (frozenset(), frozenset()),
    "schedule": (frozenset(), frozenset()),
    "sleep": (frozenset({"queue"}), frozenset()),
    "wake": (frozenset({"queue"}), frozenset()),
    "exit": (frozenset(), frozenset()),
    "raise_irq": (frozenset({"irq"}), frozenset({"cpu"})),
    "raise_softirq": (frozenset({"softirq"}), frozenset({"cpu"})),
    "flush_tlb_one": (frozenset({"addr"}), frozenset()),
    "flush_tlb_all": (frozenset(), frozenset()),
    "work": (frozenset(), frozenset({"steps"})),
    "page_address": (frozenset({"page", "as"}), frozenset()),
    "wait_for_completion": (frozenset({"completion"}), frozenset()),
    "complete": (frozenset({"completion"}), frozenset()),
    "repeat": (frozenset({"count", "ops"}), frozenset()),
    "kmap": (frozenset({"page"}), frozenset({"as"})),
    "kmap_local_page": (frozenset({"page"}), frozenset({"as"})),
    "kunmap_local": (frozenset({"addr"}), frozenset()),
    "kmap_nonblock": (frozenset({"page"}), frozenset({"as"})),
    "kunmap": (frozenset({"page"}), frozenset()),
    "submit_bh": (frozenset({"device", "rw", "page", "block"}), frozenset({"offset", "as"})),
    "wait_on_buffer": (frozenset({"bh"}), frozenset()),
    "spin_lock": (frozenset({"lock"}), frozenset()),
    "spin_unlock": (frozenset({"lock"}), frozenset()),
    "spin_lock_irq": (frozenset({"lock"}), frozenset()),
    "spin_unlock_irq": (frozenset({"lock"}), frozenset()),
}


def to_bytes(value: Any, what: str) -> bytes:
    """A TOML ``data``/``expect`` value as bytes: a string (UTF-8) or an array of 0..255."""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, list) and all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 256
                                       for x in value):
        return bytes(value)
    raise HighmemError(f"{what} must be a string or an array of byte values 0..255, not {value!r}")


#: One compiled operation: it runs on the machine with the body's variables.
Step = Callable[[Machine, "dict[str, Any]"], None]


def compile_ops(sc: Scenario, ctx: ContextSpec, pages: dict[str, Page]) -> Callable[[Machine], None]:
    """The body of context ``ctx``: runs its operations in a fresh variable scope each time."""
    starts = OP_STARTS.get()
    if starts is None:
        steps = [_compile(sc, ctx, op, pages) for op in ctx.ops or []]
    else:
        steps = _compile_tracked(sc, ctx, ctx.ops or [], pages, starts, [0])

    def body(m: Machine) -> None:
        env: dict[str, Any] = {}
        for s in steps:
            s(m, env)

    return body


def _compile_tracked(sc: Scenario, ctx: ContextSpec, ops: list[dict[str, Any]], pages: dict[str, Page],
                     starts: Callable[[Machine, ContextSpec, int], None], counter: list[int]) -> list[Step]:
    out: list[Step] = []
    for op in ops:
        index = counter[0]
        counter[0] += 1
        if op["op"] == "repeat":
            inner = _compile_tracked(sc, ctx, op["ops"], pages, starts, counter)
            count = op["count"]

            def loop(m: Machine, env: dict[str, Any], inner: list[Step] = inner, count: int = count,
                     index: int = index) -> None:
                starts(m, ctx, index)
                for _ in range(count):
                    for s in inner:
                        s(m, env)
            out.append(loop)
        else:
            run = _compile(sc, ctx, op, pages)

            def step(m: Machine, env: dict[str, Any], run: Step = run, index: int = index) -> None:
                starts(m, ctx, index)
                run(m, env)
            out.append(step)
    return out


class _KmType:
    """A scenario's km type (a name or a number) as the member of the running machine's enum.

    Coerced once per enum rather than on every kmap_atomic; a value the enum
    lacks is passed on as written, so the primitive reports it where it
    always did (after its scheduling point).
    """

    __slots__ = ("value", "enum", "member")
    #: A cache that may outlive a snapshot's restore (see highmem.snapshot): it depends only on the enum.
    __snapshot__ = "cache"

    def __init__(self, value: Any) -> None:
        self.value = value
        self.enum: Any = None
        self.member: Any = value

    def of(self, m: Machine) -> Any:
        enum = m.km_type
        if enum is not self.enum:
            from highmem.kernel.kmap_types import coerce_km_type

            try:
                self.member = coerce_km_type(enum, self.value)
            except HighmemError:
                self.member = self.value
            self.enum = enum
        return self.member


def _addr(env: dict[str, Any], v: Any) -> int:
    if isinstance(v, str):
        return env[v]
    return int(v)


def _compile(sc: Scenario, ctx: ContextSpec, op: dict[str, Any], pages: dict[str, Page]) -> Step:
    name = op["op"]
    if name == "kmap_atomic":
        page = pages[op["page"]]
        kt = _KmType(op["type"])
        var = op.get("as", op["page"])

        def kmap(m: Machine, env: dict[str, Any]) -> None:
            # kt.of(m), without its call while the machine's enum is the one it coerced for.
            env[var] = m.kmap_atomic(page, kt.member if kt.enum is m.km_type else kt.of(m))
        return kmap
    if name == "kunmap_atomic":
        a, ku = op["addr"], _KmType(op["type"])
        if isinstance(a, str):
            return lambda m, env: m.kunmap_atomic(env[a], ku.member if ku.enum is m.km_type else ku.of(m))
        return lambda m, env: m.kunmap_atomic(int(a), ku.member if ku.enum is m.km_type else ku.of(m))
    if name == "store":
        a, off = op["addr"], op.get("offset", 0)
        data = to_bytes(op["data"], "store data") * op.get("repeat", 1)
        if isinstance(a, str):
            return lambda m, env: m.store(env[a] + off, data)
        return lambda m, env: m.store(_addr(env, a) + off, data)
    if name == "load":
        a, off = op["addr"], op.get("offset", 0)
        expect = to_bytes(op["expect"], "load expect") if "expect" in op else None
        size = op.get("size", len(expect) if expect is not None else 1)

        def load(m: Machine, env: dict[str, Any]) -> None:
            got = m.load((env[a] if a.__class__ is str else _addr(env, a)) + off, size)
            if expect is not None and got != expect:
                from highmem.scenarios.model import _show

                cur = m.current
                eng = m.engine
                checker = getattr(eng, "checker", None)
                if checker is not None:
                    checker.report(Finding(
                        "data-mismatch",
                        f"{cur.name} loaded {_show(got)} from {_addr(env, a) + off:#010x} on CPU {cur.cpu} "
                        f"but expected {_show(expect)}", cur.cpu, [cur.name], None, [],
                        [checker.step_of()]))
        return load
    if name == "copy":
        d, s = op["dst"], op["src"]
        size, doff, soff = op.get("size", 4096), op.get("dst_offset", 0), op.get("src_offset", 0)
        if isinstance(d, str) and isinstance(s, str):
            return lambda m, env: m.memcpy(env[d] + doff, env[s] + soff, size)
        return lambda m, env: m.memcpy(_addr(env, d) + doff, _addr(env, s) + soff, size)
    if name in ("cli", "sti", "local_bh_disable", "local_bh_enable", "schedule", "flush_tlb_all"):
        attr = name
        return lambda m, env: getattr(m, attr)()
    if name in ("save_flags", "local_irq_save"):
        var, attr = op["as"], name

        def save(m: Machine, env: dict[str, Any]) -> None:
            env[var] = getattr(m, attr)()
        return save
    if name in ("restore_flags", "local_irq_restore"):
        var, attr = op["flags"], name
        return lambda m, env: getattr(m, attr)(env[var])
    if name == "sleep":
        q = op["queue"]
        return lambda m, env: m.sleep_on(q)
    if name == "wake":
        q = op["queue"]

        def wake(m: Machine, env: dict[str, Any]) -> None:
            m.wake_up(q)
        return wake
    if name == "exit":
        return lambda m, env: m.do_exit()
    if name == "raise_irq":
        irq, cpu = op["irq"], op.get("cpu")
        return lambda m, env: m.raise_irq(irq, cpu)
    if name == "raise_softirq":
        sirq, cpu = op["softirq"], op.get("cpu")
        return lambda m, env: m.raise_softirq(sirq, cpu)
    if name == "flush_tlb_one":
        a = op["addr"]
        return lambda m, env: m.flush_tlb_one(_addr(env, a))
    if name == "kmap_local_page":
        pg, var = pages[op["page"]], op.get("as", op["page"])

        def kmap_local(m: Machine, env: dict[str, Any]) -> None:
            env[var] = m.kmap_local_page(pg)
        return kmap_local
    if name == "kunmap_local":
        a = op["addr"]
        return lambda m, env: m.kunmap_local(_addr(env, a))
    if name in ("kmap", "kmap_nonblock"):
        pg, var, attr = pages[op["page"]], op.get("as", op["page"]), name

        def do_kmap(m: Machine, env: dict[str, Any]) -> None:
            env[var] = getattr(m, attr)(pg)
        return do_kmap
    if name == "kunmap":
        pg = pages[op["page"]]
        return lambda m, env: m.kunmap(pg)
    if name == "submit_bh":
        from highmem.kernel.bounce import BufferHead

        dev_name, rw, pg = op["device"], op["rw"].upper(), pages[op["page"]]
        block, off = op["block"], op.get("offset", 0)
        var = op.get("as", f"bh{block}")
        bh_name = f"{ctx.name}:{var}"
        devices = sc.runtime_devices

        def submit(m: Machine, env: dict[str, Any]) -> None:
            dev = devices[dev_name]
            data = off if pg.pfn >= m.highstart_pfn else m.page_address(pg) + off
            bh = BufferHead(block, dev.block_size, pg, data, dev_name, bh_name)  # name=bh_name, by position
            env[var] = bh
            m.submit_bh(dev, rw, bh)
        return submit
    if name == "wait_on_buffer":
        var = op["bh"]
        return lambda m, env: m.wait_on_buffer(env[var])
    if name in ("spin_lock", "spin_unlock", "spin_lock_irq", "spin_unlock_irq"):
        lock, attr = op["lock"], name
        return lambda m, env: getattr(m, attr)(lock)
    if name == "page_address":
        pg, var = pages[op["page"]], op["as"]

        def page_address(m: Machine, env: dict[str, Any]) -> None:
            if m.sched_point is not None:
                m.sched_point("page_address")
            env[var] = m.page_address(pg)
        return page_address
    if name == "wait_for_completion":
        cname = op["completion"]
        return lambda m, env: m.wait_for_completion(cname)
    if name == "complete":
        cname = op["completion"]
        return lambda m, env: m.complete(cname)
    if name == "work":
        n = op.get("steps", 1)

        def work(m: Machine, env: dict[str, Any]) -> None:
            for _ in range(n):
                if m.sched_point is not None:
                    m.sched_point("work")
        return work
    if name == "repeat":
        inner = [_compile(sc, ctx, o, pages) for o in op["ops"]]
        count = op["count"]

        def repeat(m: Machine, env: dict[str, Any]) -> None:
            for _ in range(count):
                for s in inner:
                    s(m, env)
        return repeat
    raise HighmemError(f"operation {name!r} is unknown")  # the loader rejects it first
