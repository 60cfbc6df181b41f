"""Expressions: evaluating an expression on a path to the value it yields (a reference into a
mapping, ``NULL``, or nothing tracked), telling the rules of every load and store through a
mapping, and binding names to values at declarations and assignments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from highmem.scan.cfg import Stmt, build
from highmem.scan.parse import declarator_name, node_text
from highmem.scan.rules import Context, Rule
from highmem.scan.state import DEF, NULL, UNINIT, Ref, State, Work
from highmem.scan.values import Node, _key, _root, _strip

__all__ = ["Expressions"]


class Expressions:
    """Evaluating expressions and binding names (a mixin of the analysis)."""

    ctx: Context
    rules: list[Rule]
    #: Fact keys worth keeping on a path.
    useful: set[str]
    #: Locals initialised with a test and never assigned again: name -> the test.
    defs: dict[str, Node]
    #: The function's parameters and locals.
    locals: set[str]
    #: Parameter name -> its position.
    params: dict[str, int]
    #: The line of the assignment being bound (names a repointed page).
    _line: int

    if TYPE_CHECKING:
        def exec(self, st: Stmt | None, states: list[State]) -> list[State]: ...
        def call(self, n: Node, w: Work) -> Any: ...
        def _tick(self) -> None: ...
        def _pointer_facts(self, w: Work, name: str, value: Node) -> None: ...

    # ----- expressions ------------------------------------------------------------------------------
    def eval_stmt(self, s: State, node: Node | None) -> State:
        if node is None:
            return s
        w = Work(s)
        self.ev(node, w)
        return w.freeze()

    def decl(self, s: State, node: Node) -> State:
        w = Work(s)
        for d in node.children_by_field_name("declarator"):
            if d.type == "init_declarator":
                name = declarator_name(d.child_by_field_name("declarator"))
                value = d.child_by_field_name("value")
                v = self.ev(value, w) if value is not None else None
                if name:
                    self._bind(w, name, v, value, d)
            else:
                name = declarator_name(d)
                if name and d.type == "pointer_declarator":
                    w.vars[name] = UNINIT
                    w.forget_facts(name)
        return w.freeze()

    def _repoint(self, w: Work, key: str) -> None:
        """``key`` now holds another value: a mapping made of the page it held is no longer named by it."""
        for m in list(w.maps):
            if m.page == key:
                w.update(m, page=f"{key} (before line {self._line})")

    def _bind(self, w: Work, name: str, v: Any, value: Node | None, node: Node) -> None:
        self._line = node.start_point[0] + 1
        self._repoint(w, name)
        w.forget_facts(name)
        if isinstance(v, (Ref, str)):
            w.vars[name] = v
            if isinstance(v, Ref):
                m = w.find(v.mid)
                if m is not None and not m.name:
                    w.update(m, name=name)
        else:
            w.vars.pop(name, None)
        if value is not None:
            self._pointer_facts(w, name, value)
            if self.defs.get(name) is not None and _strip(value) is not None and \
                    _strip(value).id == self.defs[name].id:
                w.vars[name] = DEF + node_text(value)
            if name not in self.useful:
                return
            src = _key(value)
            if src:
                w.facts |= {(name, b) for k, b in w.facts if k == src}
            t = node_text(_strip(value))
            if t in ("0", "false", "NULL"):
                w.facts.add((name, False))
            elif t in ("1", "true"):
                w.facts.add((name, True))

    def _refs_in(self, node: Node, w: Work) -> set[tuple[int, int]]:
        """Mappings a returned expression mentions anywhere (``return addr + off``, ``return page``)."""
        out: set[tuple[int, int]] = set()
        stack = [node]
        while stack:
            n = stack.pop()
            if n.type in ("identifier", "field_expression"):
                v = w.vars.get(node_text(n))
                if isinstance(v, Ref):
                    out.add(v.mid)
                for m in w.maps:
                    if m.page == node_text(n):
                        out.add(m.mid)
            stack.extend(n.named_children)
        return out

    def _nonnull(self, w: Work, base: Node | None) -> None:
        """``base`` was just dereferenced: on this path it is not NULL (or the kernel has oopsed)."""
        base = _strip(base)
        if base is not None and base.type == "identifier":
            name = base.text.decode()
            if name in self.useful:
                w.facts.discard((name, False))
                w.facts.add((name, True))

    def _deref(self, w: Work, v: Any, node: Node, how: str = "dereferences") -> None:
        arg = node.child_by_field_name("argument") if how == "dereferences" else None
        if arg is not None:
            self._nonnull(w, arg)
        if isinstance(v, Ref) and not v.weak:
            m = w.find(v.mid)
            if m is not None and not m.live:
                for r in self.rules:
                    r.on_use(self.ctx, w, m, node, how)

    def ev(self, n: Node | None, w: Work) -> Any:
        if n is None:
            return None
        self._tick()
        t = n.type
        if t == "identifier":
            name = n.text.decode()
            if name in ("NULL",):
                return NULL
            return w.vars.get(name)
        if t == "null":
            return NULL
        if t == "number_literal":
            return NULL if n.text in (b"0",) else None
        if t == "parenthesized_expression":
            inner = n.named_children[0] if n.named_children else None
            if inner is not None and inner.type == "compound_statement":
                out = self.exec(build(inner), [w.freeze()])
                if out:
                    w.__init__(out[0])  # type: ignore[misc]
                return None
            return self.ev(inner, w)
        if t == "cast_expression":
            v = self.ev(n.child_by_field_name("value"), w)
            ty = n.child_by_field_name("type")
            if isinstance(v, Ref) and ty is not None and node_text(ty).strip() == "void":
                # A map cast to (void) is discarded on purpose (2.6's shmem maps KM_USER1 so that a
                # later, shared unmap balances): its unmap lives elsewhere, so it is no leak.
                m = w.find(v.mid)
                if m is not None and m.live:
                    w.update(m, escaped=True)
                return None
            return v
        if t == "pointer_expression":
            arg = n.child_by_field_name("argument")
            if n.child(0).type == "*":
                v = self.ev(arg, w)
                self._deref(w, v, n)
                return None
            a = _strip(arg)
            if a is not None and a.type == "subscript_expression":
                v = self.ev(a.child_by_field_name("argument"), w)
                self.ev(a.child_by_field_name("index"), w)
                return Ref(v.mid, True, v.weak) if isinstance(v, Ref) else None
            if a is not None and a.type == "field_expression":
                self.ev(a.child_by_field_name("argument"), w)
            return None
        if t == "subscript_expression":
            v = self.ev(n.child_by_field_name("argument"), w)
            self.ev(n.child_by_field_name("index"), w)
            self._deref(w, v, n)
            return None
        if t == "field_expression":
            key = node_text(n)
            base = n.child_by_field_name("argument")
            v = self.ev(base, w)
            op = n.child_by_field_name("operator")
            if op is not None and op.type == "->":
                self._deref(w, v, n)
            return w.vars.get(key)
        if t == "binary_expression":
            left = self.ev(n.child_by_field_name("left"), w)
            right = self.ev(n.child_by_field_name("right"), w)
            op = n.child_by_field_name("operator")
            if op is not None and op.type in ("|", "^", "&"):
                for side in (left, right):
                    if isinstance(side, Ref):
                        return Ref(side.mid, True, weak=True)  # tagged pointers: (unsigned long)addr | FLAG
            if op is not None and op.type in ("+", "-"):
                if isinstance(left, Ref):
                    return Ref(left.mid, True, left.weak)
                if isinstance(right, Ref) and op.type == "+":
                    return Ref(right.mid, True, right.weak)
            return None
        if t == "update_expression":
            arg = n.child_by_field_name("argument")
            v = self.ev(arg, w)
            k = _key(arg) if arg is not None else None
            if k is not None:
                # ``i++`` leaves ``i`` neither 0 nor what the path knew of it; a pointer stepped
                # through a mapping still points into it.
                cur = w.vars.get(k)
                if isinstance(cur, Ref):
                    w.vars[k] = Ref(cur.mid, True, cur.weak)
                elif cur is not None:
                    del w.vars[k]
                w.forget_facts(k)
            return v
        if t == "assignment_expression":
            return self.assign(n, w)
        if t == "call_expression":
            return self.call(n, w)
        if t == "conditional_expression":
            self.ev(n.child_by_field_name("condition"), w)
            a = self.ev(n.child_by_field_name("consequence"), w)
            b = self.ev(n.child_by_field_name("alternative"), w)
            for x, y in ((a, b), (b, a)):
                m = w.find(x.mid) if isinstance(x, Ref) else None
                if m is not None and not isinstance(y, Ref):
                    w.update(m, opaque=True)  # mapped on one arm only: whether it exists is not tracked
            return a if isinstance(a, Ref) else b if isinstance(b, Ref) else None
        if t == "comma_expression":
            self.ev(n.child_by_field_name("left"), w)
            return self.ev(n.child_by_field_name("right"), w)
        if t in ("sizeof_expression", "alignof_expression", "offsetof_expression", "string_literal",
                 "char_literal", "true", "false", "concatenated_string", "gnu_asm_expression", "type_descriptor"):
            return None
        for c in n.named_children:
            self.ev(c, w)
        return None

    def assign(self, n: Node, w: Work) -> Any:
        lhs = n.child_by_field_name("left")
        rhs = n.child_by_field_name("right")
        op = n.child_by_field_name("operator")
        v = self.ev(rhs, w)
        key = _key(lhs)
        if op is not None and op.type in ("+=", "-="):
            cur = w.vars.get(key) if key else None
            v = Ref(cur.mid, True, cur.weak) if isinstance(cur, Ref) else None
        elif op is not None and op.type != "=":
            v = None
        target = _strip(lhs)
        if target is None:
            return v
        if target.type == "identifier":
            name = node_text(target)
            self._bind(w, name, v, rhs if op is not None and op.type == "=" else None, n)
            if name not in self.locals and isinstance(v, Ref):
                self._store(w, v, name, n)
            return v
        if target.type == "field_expression":
            base = target.child_by_field_name("argument")
            bv = self.ev(base, w)
            fop = target.child_by_field_name("operator")
            if fop is not None and fop.type == "->":
                self._deref(w, bv, target)
            assert key is not None
            self._line = n.start_point[0] + 1
            self._repoint(w, key)
            w.forget_facts(key)
            root = _root(target)
            if isinstance(v, Ref):
                w.vars[key] = v
                m = w.find(v.mid)
                if m is not None and "[" in key and root in self.locals and root not in self.params:
                    w.update(m, opaque=True)  # one of an array of mappings: which one is released is not tracked
                    return v
                if m is not None and not m.name:
                    w.update(m, name=key)
                if "->" in key or root not in self.locals:
                    self._store(w, v, key, n)
            else:
                w.vars.pop(key, None)
            return v
        if target.type in ("subscript_expression", "pointer_expression"):
            bv = self.ev(target.child_by_field_name("argument"), w)
            if target.type == "subscript_expression":
                self.ev(target.child_by_field_name("index"), w)
            self._deref(w, bv, target)
            if isinstance(v, Ref):
                m = w.find(v.mid)
                root = _root(target)
                if m is not None and target.type == "subscript_expression" and root in self.locals \
                        and root not in self.params:
                    w.update(m, opaque=True)
                else:
                    self._store(w, v, node_text(target), n)
            return v
        self.ev(target, w)
        return v

    def _store(self, w: Work, v: Ref, where: str, node: Node) -> None:
        m = w.find(v.mid)
        if m is None or not m.live:
            return
        m = w.update(m, escaped=True)
        if v.weak:
            return
        for r in self.rules:
            r.on_store(self.ctx, w, m, where, node)
