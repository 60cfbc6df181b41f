"""Typed, immutable events and the observer bus.

The hardware and kernel models never print: every visible thing they do is
an event handed to the observers subscribed on the :class:`EventBus`
(trio's ``Instrument`` pattern).  The tracer, the checker, the statistics and
the reports are all observers.

Events are :class:`typing.NamedTuple` subclasses: immutable, typed, cheap to
build (they are made on every simulated step when someone listens), and each
carries a class attribute ``kind`` naming it in traces.

When nobody is subscribed the models skip building events at all
(``bus.active`` is false), so an unobserved machine pays nothing for them.
"""

# No ``from __future__ import annotations`` here: typing.NamedTuple turns every string annotation
# into a ForwardRef, compiling it, about 100 compilations for these events on every start-up (1.4 ms,
# a sixth of a ``python -c pass``); evaluated annotations are plain classes, and the NamedTuples'
# types (typing.get_type_hints) are the same.
from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple
else:
    from highmem._typing import NamedTuple

__all__ = [
    "Event",
    "EventBus",
    "Observer",
    "SetPte",
    "PteClear",
    "TlbFlushOne",
    "TlbFlushAll",
    "TlbFill",
    "KmapAtomic",
    "KunmapAtomic",
    "Load",
    "Store",
    "Fault",
    "Bug",
    "IrqFlags",
    "ContextEvent",
    "Kmap",
    "Kunmap",
    "PkmapFlush",
    "Bounce",
    "Warn",
]


class SetPte(NamedTuple):
    """A PTE was written (``set_pte``): ``ptep`` is the PTE's physical address."""

    cpu: int
    context: str
    ptep: int
    vaddr: int
    old: int
    new: int

    @property
    def kind(self) -> str:
        return "set_pte"


class PteClear(NamedTuple):
    """A PTE was cleared (``pte_clear``)."""

    cpu: int
    context: str
    ptep: int
    vaddr: int
    old: int

    @property
    def kind(self) -> str:
        return "pte_clear"


class TlbFlushOne(NamedTuple):
    """``__flush_tlb_one(vaddr)`` on one CPU; ``present`` says whether an entry was dropped."""

    cpu: int
    context: str
    vaddr: int
    present: bool

    @property
    def kind(self) -> str:
        return "tlb_flush_one"


class TlbFlushAll(NamedTuple):
    """``__flush_tlb_all()`` (``include_global``) or ``__flush_tlb()`` on one CPU."""

    cpu: int
    context: str
    include_global: bool
    dropped: int

    @property
    def kind(self) -> str:
        return "tlb_flush_all"


class TlbFill(NamedTuple):
    """A page-table walk filled a TLB entry on ``cpu``."""

    cpu: int
    vaddr: int
    pfn: int

    @property
    def kind(self) -> str:
        return "tlb_fill"


class KmapAtomic(NamedTuple):
    """``kmap_atomic(page, type)`` returned ``vaddr``; ``idx`` is -1 for the lowmem shortcut."""

    cpu: int
    context: str
    type: str
    idx: int
    vaddr: int
    pfn: int

    @property
    def kind(self) -> str:
        return "kmap_atomic"


class KunmapAtomic(NamedTuple):
    """``kunmap_atomic(vaddr, type)``; ``cleared`` says whether the PTE was cleared (debug)."""

    cpu: int
    context: str
    type: str
    idx: int
    vaddr: int
    cleared: bool

    @property
    def kind(self) -> str:
        return "kunmap_atomic"


class Load(NamedTuple):
    """A load of ``size`` bytes at ``vaddr``; ``pfn`` is the frame it reached, ``tlb`` whether from the TLB."""

    cpu: int
    context: str
    vaddr: int
    size: int
    pfn: int
    tlb: bool

    @property
    def kind(self) -> str:
        return "load"


class Store(NamedTuple):
    """A store of ``size`` bytes at ``vaddr``; fields as :class:`Load`."""

    cpu: int
    context: str
    vaddr: int
    size: int
    pfn: int
    tlb: bool

    @property
    def kind(self) -> str:
        return "store"


class Fault(NamedTuple):
    """A kernel page fault (the model's Oops) at ``vaddr``."""

    cpu: int
    context: str
    vaddr: int
    write: bool
    message: str

    @property
    def kind(self) -> str:
        return "fault"


class Bug(NamedTuple):
    """The kernel executed ``BUG()`` in ``function``."""

    cpu: int
    context: str
    function: str
    message: str

    @property
    def kind(self) -> str:
        return "bug"


class Warn(NamedTuple):
    """The kernel executed ``WARN_ON`` (non-fatal) in ``function``; execution continues."""

    cpu: int
    context: str
    function: str
    message: str

    @property
    def kind(self) -> str:
        return "warn"


class Kmap(NamedTuple):
    """``kmap(page)`` returned ``vaddr``; ``nr`` is the pkmap entry (-1 for lowmem), ``pkmap_count`` its new value."""

    cpu: int
    context: str
    pfn: int
    vaddr: int
    nr: int
    pkmap_count: int

    @property
    def kind(self) -> str:
        return "kmap"


class Kunmap(NamedTuple):
    """``kunmap(page)``; fields as :class:`Kmap` (``pkmap_count`` after the decrement)."""

    cpu: int
    context: str
    pfn: int
    vaddr: int
    nr: int
    pkmap_count: int

    @property
    def kind(self) -> str:
        return "kunmap"


class PkmapFlush(NamedTuple):
    """``flush_all_zero_pkmaps()`` cleared ``cleared`` entries before its global TLB flush."""

    cpu: int
    context: str
    cleared: int

    @property
    def kind(self) -> str:
        return "pkmap_flush"


class Bounce(NamedTuple):
    """Block I/O through a bounce buffer: ``what`` is create, copy_from_high, copy_to_high_irq or end_io."""

    cpu: int
    context: str
    what: str
    rw: str
    block: int
    pfn: int
    bounce_pfn: int

    @property
    def kind(self) -> str:
        return "bounce"


class IrqFlags(NamedTuple):
    """The interrupt flag of ``cpu`` changed (``op`` names the primitive); ``enabled`` is the new IF."""

    cpu: int
    context: str
    op: str
    enabled: bool

    @property
    def kind(self) -> str:
        return "irq_flags"


class ContextEvent(NamedTuple):
    """A context changed state on ``cpu``.

    ``what`` is one of: ``start`` (a task first runs), ``switch_in`` (a task is
    scheduled in), ``switch_out`` (it gives up the CPU: ``detail`` = schedule,
    sleep or exit), ``irq_enter`` / ``irq_exit`` (a hard-IRQ handler, ``detail``
    = the interrupt), ``softirq_enter`` / ``softirq_exit``, ``wake`` (woken from
    ``detail``, the wait queue), ``end`` (the context finished).
    """

    cpu: int
    context: str
    ctx_kind: str
    what: str
    detail: str

    @property
    def kind(self) -> str:
        return "context"


Event = (
    SetPte | PteClear | TlbFlushOne | TlbFlushAll | TlbFill | KmapAtomic | KunmapAtomic
    | Load | Store | Fault | Bug | IrqFlags | ContextEvent | Kmap | Kunmap | PkmapFlush | Bounce | Warn
)
Observer = Callable[[NamedTuple], None]


class EventBus:
    """Fan-out of events to observers, in subscription order.

    States: *idle* (no observer: ``active`` is false and emitters skip building
    events) and *active*.  Subscribing or unsubscribing switches between them.
    With exactly one observer, ``emit`` *is* that observer (no fan-out loop on
    the hot path).  Any context; observers must not emit events themselves.
    """

    __slots__ = ("_observers", "active", "emit", "on_access", "on_kmap", "on_kunmap", "judges")

    def __init__(self) -> None:
        self._observers: list[Observer] = []
        self.active = False
        self.emit: Observer = self._fan_out
        #: When the only observer has ``on_access(cpu, context, vaddr, size, pfn, tlb, write)``,
        #: loads and stores call it with plain values instead of building Load/Store events: the
        #: observer builds one only for an access it must report.  None otherwise.
        self.on_access: Callable[..., None] | None = None
        #: Likewise ``on_kmap(cpu, context, type, idx, vaddr, pfn)`` and ``on_kunmap(cpu, context, type,
        #: idx, vaddr, cleared)``: a highmem kmap_atomic (or a kunmap_atomic) then builds no KmapAtomic
        #: or KunmapAtomic event, nor the SetPte/PteClear/TlbFlushOne events that observer does not
        #: judge.  None otherwise.
        self.on_kmap: Callable[..., None] | None = None
        self.on_kunmap: Callable[..., None] | None = None
        #: When the only observer declares ``judges`` (the event types it acts on, ignoring every
        #: other), that set: emitters of an event type outside it may skip building the event.
        #: None otherwise (every event is built).
        self.judges: frozenset[type] | None = None

    def _rebind(self) -> None:
        self.active = bool(self._observers)
        self.emit = self._observers[0] if len(self._observers) == 1 else self._fan_out
        self.on_access = (getattr(self._observers[0], "on_access", None) if len(self._observers) == 1
                          else None)
        sole = self._observers[0] if len(self._observers) == 1 else None
        self.on_kmap = getattr(sole, "on_kmap", None)
        self.on_kunmap = getattr(sole, "on_kunmap", None)
        self.judges = getattr(sole, "judges", None)

    def subscribe(self, observer: Observer) -> Observer:
        """Add ``observer``; it is called with every later event.  Returns it."""
        self._observers.append(observer)
        self._rebind()
        return observer

    def unsubscribe(self, observer: Observer) -> None:
        """Remove ``observer``; it must be subscribed."""
        self._observers.remove(observer)
        self._rebind()

    def _fan_out(self, event: NamedTuple) -> None:
        """Hand ``event`` to every observer."""
        for obs in self._observers:
            obs(event)
