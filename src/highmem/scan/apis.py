"""What the scanner knows about kernel functions: the mapping API, the wrappers, the calls that sleep.

The wrapper table is data, as smatch keeps its function tables: each entry names a function and
what it does to a mapping.  Users add entries for their own tree with a TOML file
(``highmem scan --wrappers FILE``)::

    [wrapper.my_map_block]          # void *my_map_block(struct page *page)
    action = "map"                  # "map" or "unmap"
    kind = "local"                  # "local", "atomic" (2.6.37+ stack), "kmtype" (2.4 slots) or "pkmap"
    page = 0                        # which argument is the page (optional)
    handle = "return"               # where the address goes: "return" or an argument index

    [wrapper.my_unmap_block]        # void my_unmap_block(void *addr)
    action = "unmap"
    kind = "local"
    handle = 0                      # the argument that names the mapping (the address; the page for pkmap)

    [sleeping]
    functions = ["my_blocking_io"]  # calls that may sleep, added to the built-in list

Other keys: ``may_fail = true`` (the map returns NULL on failure, like ``pte_offset_map``),
``lock = true`` (the map also takes a spinlock, like ``pte_offset_map_lock``; the unmap drops it),
``slot`` (the argument index of a ``KM_*`` type, for 2.4 wrappers).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace

from highmem.errors import HighmemError

__all__ = ["Api", "ApiTable", "quick_keys", "KINDS", "builtin_table", "load_wrappers", "SLEEPING", "SLEEPING_PREFIXES",
           "SELF_CONTAINED"]

#: Kinds of mapping: the kmap_local stack (5.11+), the 2.6.37+ stack kmap_atomic, 2.4-2.6.36 km_type
#: slots, and the persistent kmap() pool.
KINDS = ("local", "atomic", "kmtype", "pkmap")


@dataclass(frozen=True)
class Api:
    """One function of the table: ``action`` is ``map`` or ``unmap``; ``handle`` is ``-1`` for the return value."""

    name: str
    action: str
    kind: str
    handle: int = -1
    page: int | None = None
    slot: int | None = None
    may_fail: bool = False
    lock: bool = False
    origin: str = "builtin"
    nargs: int | None = None
    #: a map whose unmap is a no-op on most configurations (pte_offset_map without HIGHPTE), so code
    #: that never unmaps it is common and harmless: its leak is reported only where the same
    #: function unmaps it on another path
    lazy: bool = False


def _m(name: str, kind: str, page: int | None = 0, **kw: object) -> Api:
    return Api(name, "map", kind, page=page, **kw)  # type: ignore[arg-type]


def _u(name: str, kind: str, handle: int = 0, **kw: object) -> Api:
    return Api(name, "unmap", kind, handle=handle, **kw)  # type: ignore[arg-type]


_BUILTIN = [
    # The API itself (include/linux/highmem.h, highmem-internal.h).
    _m("kmap_local_page", "local"), _m("kmap_local_folio", "local"), _m("kmap_local_pfn", "local", None),
    _m("kmap_local_page_try_from_panic", "local"),
    _m("kmap_atomic", "atomic"), _m("kmap_atomic_pfn", "atomic", None), _m("kmap_atomic_prot", "atomic"),
    _m("kmap", "pkmap"),
    _u("kunmap_local", "local"), _u("kunmap_atomic", "atomic"), _u("kunmap", "pkmap"),
    # Wrappers that map or unmap (their definitions call the API above).
    _m("bvec_kmap_local", "local", None), _m("__bio_kmap_atomic", "atomic", None),
    _u("__bio_kunmap_atomic", "atomic"), _u("folio_release_kmap", "local", 1),
    _m("kmap_local_folio", "local"),
    # mm/pgtable-generic.c: pte_offset_map*() map the PTE page with kmap_local under CONFIG_HIGHPTE
    # and may return NULL when the PMD changed under them.
    _m("pte_offset_map", "local", None, may_fail=True, lazy=True),
    _m("pte_offset_map_nolock", "local", None, may_fail=True, lazy=True),
    _m("pte_offset_map_ro_nolock", "local", None, may_fail=True, lazy=True),
    _m("pte_offset_map_rw_nolock", "local", None, may_fail=True, lazy=True),
    _m("pte_offset_map_lock", "local", None, may_fail=True, lock=True,
       lazy=True),
    _u("pte_unmap", "local"), _u("pte_unmap_unlock", "local", lock=True),
    # include/crypto/scatterwalk.h (6.15+): the walk holds the address.
    # Older trees have functions of these names with other arguments and meanings (2.4's
    # scatterwalk_map(walk, out) maps into walk->data): only the 6.15+ shapes are entries.
    Api("scatterwalk_map", "map", "local", handle=0, nargs=1),
    Api("scatterwalk_next", "map", "local", handle=0, nargs=2),
    _u("scatterwalk_unmap", "local", nargs=1), _u("scatterwalk_done_src", "local", nargs=2),
    _u("scatterwalk_done_dst", "local", nargs=2),
]

#: Calls that may sleep (user-extensible with ``[sleeping] functions``); prefixes end in ``*`` below.
SLEEPING = frozenset({
    "msleep", "msleep_interruptible", "ssleep", "usleep_range", "schedule", "schedule_timeout", "might_sleep",
    "cond_resched", "copy_to_user", "copy_from_user", "get_user", "put_user", "clear_user", "strncpy_from_user",
    "vmalloc", "vzalloc", "vfree", "lock_page", "folio_lock", "kernel_read", "kernel_write", "vfs_read",
    "vfs_write", "wait_on_page_locked", "wait_on_page_writeback", "folio_wait_writeback", "synchronize_rcu",
    "flush_work", "flush_workqueue", "cancel_work_sync", "filemap_write_and_wait", "sync_dirty_buffer",
    "wait_on_buffer", "lock_buffer", "bread", "sb_bread", "__bread", "submit_bio_wait", "read_mapping_page",
    "read_cache_page", "kthread_stop", "request_firmware", "crypto_alloc_shash", "alloc_page_vma",
    "io_schedule", "sleep_on", "interruptible_sleep_on",
})
SLEEPING_PREFIXES = ("mutex_lock", "down", "schedule_", "wait_event", "wait_for_completion", "rwsem_",
                     "mmap_read_lock", "mmap_write_lock", "filemap_fdatawait")

#: Self-contained helpers: they map and unmap inside, so a call is neither a map nor an unmap.
SELF_CONTAINED = frozenset({"memcpy_from_page", "memcpy_to_page", "memzero_page", "memset_page", "memcpy_page",
                            "memmove_page", "copy_highpage", "copy_user_highpage", "clear_highpage",
                            "zero_user", "zero_user_segment", "zero_user_segments", "memcpy_from_folio",
                            "memcpy_to_folio", "folio_zero_range", "folio_zero_segment", "clear_user_highpage"})

_DOWN_NOT_SLEEPING = ("down_read_trylock", "down_write_trylock", "down_trylock", "downgrade_write")


class ApiTable:
    """The mapping functions by name, the sleeping calls, and a regular expression that finds them."""

    def __init__(self, apis: list[Api], sleeping: frozenset[str] = SLEEPING) -> None:
        self.apis = {a.name: a for a in apis}
        self.sleeping = sleeping
        self.may_unmap: dict[str, set[int]] = {}
        #: 2.6.37+ trees: kmap_atomic(page, KM_*) is the stack map with its type ignored
        self.km_type_ignored = False
        self.pattern = re.compile(rb"\b(?:" + b"|".join(re.escape(n.encode()) for n in sorted(self.apis)) + rb")\b")
        self.keys = quick_keys(self.apis)

    def mentions(self, data: bytes) -> bool:
        """Whether ``data`` names a function of the table (a substring test first: most files name none)."""
        return any(k in data for k in self.keys) and self.pattern.search(data) is not None

    def get(self, name: str) -> Api | None:
        """The entry for the called function ``name``, or ``None``."""
        return self.apis.get(name)

    def with_summaries(self, extra: dict[str, Api], may_unmap: dict[str, set[int]]) -> ApiTable:
        """This table plus the summaries of one file's static helpers (they shadow nothing built in)."""
        t = ApiTable([], self.sleeping)
        t.apis = {**extra, **self.apis}
        t.keys = self.keys
        t.km_type_ignored = self.km_type_ignored
        t.may_unmap = {k: v for k, v in may_unmap.items() if k not in t.apis}
        t.pattern = self.pattern
        return t

    def pattern_with(self, extra: dict[str, Api]) -> re.Pattern[bytes]:
        """The regular expression that finds this table's names and ``extra``'s."""
        names = sorted(set(self.apis) | set(extra))
        return re.compile(rb"\b(?:" + b"|".join(re.escape(n.encode()) for n in names) + rb")\b")

    def may_sleep(self, name: str) -> bool:
        """Whether a call of ``name`` may sleep (the built-in list plus the user's)."""
        if name in self.sleeping:
            return True
        if name.endswith("_trylock") or name in _DOWN_NOT_SLEEPING or name.startswith("down_") and "trylock" in name:
            return False
        if name == "down" or name.startswith(("down_read", "down_write", "down_interruptible", "down_killable",
                                              "down_timeout")):
            return True
        return name.startswith(tuple(p for p in SLEEPING_PREFIXES if p != "down"))


def quick_keys(names: object) -> tuple[bytes, ...]:
    """Substrings every name contains one of: ``kmap``, ``kunmap``, or the name itself."""
    keys = set()
    for n in names:  # type: ignore[attr-defined]
        keys.add(b"kmap" if "kmap" in n else b"kunmap" if "kunmap" in n else n.encode())
    return tuple(sorted(keys))


def builtin_table() -> ApiTable:
    """The built-in table (the kernel's API and its wrappers, documented in docs/scan.md)."""
    return ApiTable(list(_BUILTIN))


def _int_or_none(d: dict[str, object], key: str, where: str) -> int | None:
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise HighmemError(f"{where}: {key!r} must be a non-negative argument index, not {v!r}")
    return v


def load_wrappers(path: str, base: ApiTable | None = None) -> ApiTable:
    """The table ``base`` (default built-in) extended by the TOML file ``path`` (format in this module's doc)."""
    base = base or builtin_table()
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise HighmemError(f"wrapper table {path!r} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise HighmemError(f"wrapper table {path!r} is not valid TOML: {e}") from None
    apis = dict(base.apis)
    for name, d in (data.get("wrapper") or {}).items():
        where = f"wrapper table {path!r}, entry {name!r}"
        if not isinstance(d, dict):
            raise HighmemError(f"{where} must be a table")
        unknown = set(d) - {"action", "kind", "page", "handle", "slot", "may_fail", "lock"}
        if unknown:
            raise HighmemError(f"{where} has unknown key {sorted(unknown)[0]!r}")
        action, kind = d.get("action"), d.get("kind")
        if action not in ("map", "unmap"):
            raise HighmemError(f"{where}: 'action' must be \"map\" or \"unmap\", not {action!r}")
        if kind not in KINDS:
            raise HighmemError(f"{where}: 'kind' must be one of {', '.join(KINDS)}, not {kind!r}")
        h = d.get("handle", "return" if action == "map" else 0)
        handle = -1 if h == "return" else _int_or_none({"handle": h}, "handle", where)
        if handle is None or (handle == -1 and action == "unmap"):
            raise HighmemError(f"{where}: an unmap's 'handle' must be an argument index")
        apis[name] = replace(Api(name, str(action), str(kind), handle=handle, page=_int_or_none(d, "page", where),
                                 slot=_int_or_none(d, "slot", where), may_fail=bool(d.get("may_fail", False)),
                                 lock=bool(d.get("lock", False))), origin=path)
    sleeping = set(base.sleeping)
    extra = (data.get("sleeping") or {}).get("functions", [])
    if not isinstance(extra, list) or not all(isinstance(x, str) for x in extra):
        raise HighmemError(f"wrapper table {path!r}: [sleeping] functions must be a list of names")
    sleeping.update(extra)
    return ApiTable(list(apis.values()), frozenset(sleeping))
