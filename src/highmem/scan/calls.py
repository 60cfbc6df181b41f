"""Calls: what a call does to the mappings and the context on a path.

A map call makes a mapping, an unmap call finds the one it releases (by address, by page, or
the top of the stack) and tells the rules, a lock or irq call moves the context's counts, and
any other call may take a mapping along (its arguments, the structures they point to).  Also
:class:`Summary`, what a static helper was seen to do, which the callers' pass reads back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from highmem.scan.apis import SELF_CONTAINED, Api, ApiTable
from highmem.scan.conditions import _setter_fact
from highmem.scan.parse import Function, node_text
from highmem.scan.rules import Context, Rule, UnmapEvent
from highmem.scan.state import NULL, UNINIT, Mapping, Ref, Work
from highmem.scan.values import Node, _key, _root, _strip

__all__ = ["Calls", "Summary", "_LOCKISH"]

_LOCK = re.compile(r"^(?:raw_)?(?:spin_lock|read_lock|write_lock)(?:_nested|_bh)?$"
                   r"|^preempt_disable$|^local_bh_disable$")
_LOCK_IRQ = re.compile(r"^(?:raw_)?(?:spin_lock|read_lock|write_lock)_irq(?:save)?(?:_nested)?$")
_UNLOCK = re.compile(r"^(?:raw_)?(?:spin_unlock|read_unlock|write_unlock)(?:_bh)?$|^preempt_enable(?:_no_resched)?$"
                     r"|^local_bh_enable$")
_UNLOCK_IRQ = re.compile(r"^(?:raw_)?(?:spin_unlock|read_unlock|write_unlock)_irq(?:restore)?$")
_IRQ_OFF = re.compile(r"^(?:local_irq_disable|local_irq_save|raw_local_irq_save|raw_local_irq_disable|__cli|cli|"
                     r"__save_and_cli|save_and_cli|local_irq_save_nort)$")
_IRQ_ON = re.compile(r"^(?:local_irq_enable|local_irq_restore|raw_local_irq_restore|raw_local_irq_enable|__sti|sti|"
                     r"__restore_flags|restore_flags)$")
#: Any of the above anywhere in a statement's text: such a statement is always walked, as it may
#: change the context even on a path that tracks nothing it names.
_LOCKISH = re.compile(rb"\b(?:raw_)?(?:spin_|read_|write_)(?:un)?lock|preempt_(?:dis|en)able|local_irq_|local_bh_|"
                      rb"\b_*(?:cli|sti|restore_flags|save_and_cli)\b")
#: Calls that test or convert the pointer's value and never load through it (include/linux/err.h):
#: a stale address handed to them after its unmap is not a use of the mapping.
_POINTER_VALUE = frozenset({"IS_ERR", "IS_ERR_OR_NULL", "PTR_ERR", "PTR_ERR_OR_ZERO", "ERR_CAST"})
#: Calls that read or write through an address and keep nothing: passing a mapping to them is not
#: handing it over (so a leak after them is still this function's).
_CONSUMER = re.compile(r"^(?:mem\w*|str\w*|__?mem\w*|crc\w*|csum\w*|flush_dcache_\w*|copy_\w+|print\w*|pr_\w+|"
                       r"dev_(?:err|warn|info|dbg)\w*|WARN\w*|BUG_ON|le\d+_to_cpu\w*|be\d+_to_cpu\w*|"
                       r"cpu_to_[lb]e\d+\w*|get_unaligned\w*|put_unaligned\w*|min|max|min_t|max_t|clamp\w*|"
                       r"test_bit|set_bit|clear_bit|__test_and_\w+|find_\w+_bit|bitmap_\w+|hex_dump\w*|"
                       r"print_hex_dump\w*|kmemdup|kstrndup|sha\d+\w*|md5\w*|xxh\w*|ptep_get\w*|pte_\w+)$")
#: A page that is an array element with a variable index (``pages[i]``): see :meth:`Calls._map`.
_VAR_INDEX = re.compile(r"^[A-Za-z_]\w*\[[^\]]*[A-Za-z_][^\]]*\]$")


@dataclass
class Summary:
    """What a static helper does to mappings, as seen by its callers (one level deep)."""

    apis: dict[str, Api] = field(default_factory=dict)
    may_unmap: dict[str, set[int]] = field(default_factory=dict)


class Calls:
    """Map, unmap, lock and other calls (a mixin of the analysis)."""

    fn: Function
    table: ApiTable
    ctx: Context
    rules: list[Rule]
    summary: Summary | None
    #: Fact keys worth keeping on a path.
    useful: set[str]
    #: The function's parameters and locals.
    locals: set[str]
    #: Parameter name -> its position.
    params: dict[str, int]
    #: Parameter position -> the kind of unmap this function applies to it.
    param_unmaps: dict[int, str]

    if TYPE_CHECKING:
        def ev(self, n: Node | None, w: Work) -> Any: ...
        def _deref(self, w: Work, v: Any, node: Node, how: str = "dereferences") -> None: ...
        def _nonnull(self, w: Work, base: Node | None) -> None: ...

    # ----- calls ------------------------------------------------------------------------------------
    def call(self, n: Node, w: Work) -> Any:
        fn = n.child_by_field_name("function")
        args_node = n.child_by_field_name("arguments")
        args = [a for a in args_node.named_children if a.type != "comment"] if args_node is not None else []
        name = fn.text.decode() if fn is not None and fn.type == "identifier" else None
        if name is None:
            self.ev(fn, w)
        api = self.table.get(name) if name else None
        if api is not None and api.nargs is not None and api.nargs != len(args):
            api = None  # a function of that name with another signature (another kernel generation)
        vals = [self.ev(a, w) for a in args]
        if api is None and name is not None:
            fact = _setter_fact(n)
            if fact is not None and fact[0] in self.useful:
                w.facts.discard((fact[0], not fact[1]))
                w.facts.add(fact)
        if api is None:
            handoff = self.table.may_unmap.get(name or "", set())
            for i, (a, v) in enumerate(zip(args, vals, strict=True)):
                held = w.find(v.mid) if isinstance(v, Ref) and i in handoff else None
                if held is not None:
                    w.update(held, opaque=True)  # the helper unmaps it on some paths only
                    continue
                if isinstance(v, Ref) and not v.weak:
                    m = w.find(v.mid)
                    if m is not None and not m.live:
                        if name not in _POINTER_VALUE:
                            self._deref(w, v, a, "passes")
                    elif m is not None and not _CONSUMER.match(name or ""):
                        w.update(m, passed=True)
                holder = _key(a)
                if holder and not _CONSUMER.match(name or ""):
                    # A structure handed to a callee takes the mappings stored in its fields along.
                    for key, hv in list(w.vars.items()):
                        if isinstance(hv, Ref) and key.startswith((holder + ".", holder + "->")):
                            held_m = w.find(hv.mid)
                            if held_m is not None and held_m.live:
                                w.update(held_m, passed=True)
                k = _key(a) if _strip(a) is not None and _strip(a).type == "pointer_expression" else None
                if k is not None:
                    w.forget_facts(k)
                    if w.vars.get(k) in (NULL, UNINIT):
                        del w.vars[k]
            if name is not None and name not in SELF_CONTAINED:
                self._locking(name, w)
                for r in self.rules:
                    r.on_call(self.ctx, w, name, n)
            for v in vals:
                if isinstance(v, Ref) and (m := w.find(v.mid)) is not None and m.live:
                    return Ref(v.mid, True, weak=True)
            return None
        if api.action == "map":
            return self._map(api, n, args, w)
        self._unmap(api, n, args, vals, w)
        return None

    def _locking(self, name: str, w: Work) -> None:
        if _LOCK.match(name):
            w.locks = min(w.locks + 1, 3)
        elif _LOCK_IRQ.match(name):
            w.locks = min(w.locks + 1, 3)
            w.irq_off = min(w.irq_off + 1, 3)
        elif _UNLOCK.match(name):
            w.locks = max(w.locks - 1, 0)
        elif _UNLOCK_IRQ.match(name):
            w.locks = max(w.locks - 1, 0)
            w.irq_off = max(w.irq_off - 1, 0)
        elif _IRQ_OFF.match(name):
            w.irq_off = min(w.irq_off + 1, 3)
        elif _IRQ_ON.match(name):
            w.irq_off = max(w.irq_off - 1, 0)

    def _map(self, api: Api, n: Node, args: list[Node], w: Work) -> Any:
        kind = api.kind
        slot = None
        if api.name in ("kmap_atomic", "kmap_atomic_pfn") and len(args) == 2 or \
                api.name == "__bio_kmap_atomic" and len(args) == 3:
            # 2.6.37-3.x kept the two-argument form as a macro that ignores the type.
            kind, slot = ("atomic" if self.table.km_type_ignored else "kmtype"), node_text(args[-1])
        elif api.slot is not None and api.slot < len(args):
            kind, slot = "kmtype", node_text(args[api.slot])
        page = node_text(args[api.page]) if api.page is not None and api.page < len(args) else None
        if api.page is not None and api.page < len(args):
            self._nonnull(w, args[api.page])  # mapping NULL would have oopsed: the page is there
        site = n.start_byte
        gen = 1 + max((m.mid[1] for m in w.maps if m.mid[0] == site), default=-1)
        line, col = n.start_point[0] + 1, n.start_point[1] + 1
        reuses: frozenset[tuple[int, int]] = frozenset()
        # A page that is an element of a local array indexed by a variable (``kmap(pages[i])``
        # in a loop, released by a second loop) is one of many mappings: which of them an unmap
        # releases is not tracked, as for mappings stored in arrays.
        opaque = page is not None and _VAR_INDEX.search(page) is not None
        depth = 0
        if kind in ("local", "atomic"):
            depth = len(w.live_stack())
            reuses = frozenset(x.mid for x in w.maps if x.stacked and x.popped and x.depth == depth)
        m = Mapping((site, gen), kind, api.name, line, col, page, slot, "", may_fail=api.may_fail, lazy=api.lazy,
                    depth=depth, reuses=reuses, opaque=opaque)
        if api.handle >= 0 and api.handle < len(args):
            key = _key(args[api.handle])
            if key:
                m = Mapping((site, gen), kind, api.name, line, col, page, slot, key, may_fail=api.may_fail,
                            escaped=key not in self.locals or "->" in key, lazy=api.lazy, depth=depth,
                            reuses=reuses, opaque=opaque)
                w.vars[key] = Ref(m.mid)
        if kind == "kmtype" and slot is not None:
            # One km_type slot per CPU: the new PTE replaces a mapping this path still holds there.
            for x in list(w.maps):
                if x.live and x.kind == "kmtype" and x.slot == slot and not x.opaque:
                    w.update(x, live=False, unmap_line=line, unmap_column=col, unmap_trips=w.trips, replaced=True)
        w.maps.append(m)
        if api.lock:
            w.locks = min(w.locks + 1, 3)
        for r in self.rules:
            r.on_map(self.ctx, w, m, n)
        return Ref(m.mid) if api.handle < 0 else None

    def _unmap(self, api: Api, n: Node, args: list[Node], vals: list[Any], w: Work) -> None:
        kind = api.kind
        if (api.name == "kunmap_atomic" and len(args) == 2 or api.name == "__bio_kunmap_atomic" and len(args) == 2) \
                and not self.table.km_type_ignored:
            kind = "kmtype"
        slot = node_text(args[1]) if kind == "kmtype" and len(args) == 2 else None
        if api.handle >= len(args):
            return
        arg = args[api.handle]
        text = node_text(arg)
        v = vals[api.handle]
        target: Mapping | None = None
        via = "unknown"
        if isinstance(v, Ref) and not v.weak:
            target, via = w.find(v.mid), "addr"
            if target is not None and not target.live and target.stacked:
                stack = w.live_stack()
                if stack and target.mid in stack[-1].reuses:
                    # The slot was taken again at the same depth: its address is the stale
                    # pointer's (__fix_to_virt(FIX_KMAP_BEGIN + idx), mm/highmem.c), and the
                    # kernel's unmap, which pops the top of the stack, releases the new mapping.
                    target = stack[-1]
        elif v in (NULL, UNINIT) and kind != "pkmap":
            via = "null"
        else:
            pages = [m for m in w.maps if m.page == text]
            live = [m for m in pages if m.live]
            pick = (live or pages)
            if pick:
                target, via = pick[-1], "page"
        if target is None and via == "unknown":
            if kind in ("local", "atomic"):
                stack = w.live_stack()
                target = stack[-1] if stack else None
            elif kind == "kmtype":
                same = [m for m in w.maps if m.live and m.kind == "kmtype" and (slot is None or m.slot == slot)]
                target = same[-1] if same else None
            if self.summary is not None:
                root = _root(arg)
                if root in self.params:
                    self.param_unmaps[self.params[root]] = kind
                    self.summary.may_unmap.setdefault(self.fn.name, set()).add(self.params[root])
                    w.facts.add((f"\0unmap{self.params[root]}", True))
            if target is not None:
                w.drop(target)
            if api.lock:
                w.locks = max(w.locks - 1, 0)
            return
        later: list[Mapping] = []
        if target is not None and target.stacked:
            idx = next((i for i, m in enumerate(w.maps) if m.mid == target.mid), len(w.maps))
            later = [m for m in w.maps[idx + 1:] if m.live and m.stacked]
        ev = UnmapEvent(api.name, kind, n, text, target, via, later, slot)
        for r in self.rules:
            r.on_unmap(self.ctx, w, ev)
        if target is not None and target.live:
            self.ctx.unmapped_sites.add(target.mid[0])
            line, col = n.start_point[0] + 1, n.start_point[1] + 1
            w.update(target, live=False, unmap_line=line, unmap_column=col, unmap_trips=w.trips,
                     popped=target.stacked and not later and target.depth == len(w.live_stack()) - 1)
        if api.lock:
            w.locks = max(w.locks - 1, 0)
