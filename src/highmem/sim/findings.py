"""Findings: what the checker reports, one misuse each.

Kinds, spelled exactly as users and tests rely on them:

``sleep-in-atomic``   a task called schedule() or slept holding an atomic kmap
``exit-in-atomic``    a task exited holding an atomic kmap
``stale-access``      a load or store through a kmap address whose slot now maps
                      another page than the one this context mapped there
``use-after-unmap``   a load or store through a slot this context already unmapped
                      (it still reached the page it had mapped: harmless only by luck)
``foreign-slot``      a load or store through a kmap slot this context never mapped
``slot-in-use``       DEBUG_HIGHMEM's BUG: kmap_atomic of a slot whose PTE is not none
``wrong-unmap``       kunmap_atomic with an address and type that do not match a mapping
                      this context holds (a BUG under DEBUG_HIGHMEM)
``page-fault``        an access through a cleared PTE: the kernel Oopses
``kernel-bug``        any other BUG() of the modelled kernel
``data-mismatch``     bytes differ from what the scenario expects
``leaked-mapping``    an interrupt or softirq handler returned holding a mapping
``deadlock``          nothing can run and some context waits
``python-exception``  a Python scenario raised an exception (the user's stack is kept)
``step-budget``       a Python scenario did not finish within the step budget
``wrong-context``     2.6's debug_kmap_atomic: a km type used where it does not belong
                      (an interrupt type with interrupts enabled, a process type in an IRQ)
``unmap-order``       a stack-based kunmap (2.6.37+, kmap_local) not in LIFO order: the kernel
                      clears the *top* slot, tearing down another mapping
``kernel-warning``    any other WARN_ON of the modelled kernel
``remap-held-slot``   a context maps a km type it already holds, on a kernel that stays silent
                      (non-debug 2.4): its own live mapping is replaced
``slot-out-of-range`` kmap_atomic with an integer km type outside the enum (Python API): the
                      kernel's ``type + KM_TYPE_NR * cpu`` lands in another CPU's slot or in
                      another fixmap entry
"""

from __future__ import annotations

from highmem._record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Finding", "FINDING_KINDS"]

FINDING_KINDS = (
    "sleep-in-atomic", "exit-in-atomic", "stale-access", "use-after-unmap", "foreign-slot",
    "slot-in-use", "wrong-unmap", "page-fault", "kernel-bug", "data-mismatch", "leaked-mapping",
    "deadlock", "python-exception", "step-budget", "wrong-context", "unmap-order", "kernel-warning",
    "slot-out-of-range", "remap-held-slot",
)


def _copy(value: Any) -> Any:
    """A copy of nested dicts, lists and tuples, as :func:`dataclasses.asdict` makes of a field."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copy(v) for v in value)
    return value


@record
class Finding:
    """One misuse, located: who, where, which slot and pages, at which steps.

    ``steps`` lists the step numbers of the events involved, earliest first
    (e.g. the map, then the clobbering map, then the access).  ``slot`` holds
    ``type``, ``idx``, ``fixmap`` and ``vaddr`` when a kmap slot is involved;
    ``pages`` the frame numbers involved.
    """

    kind: str
    message: str
    cpu: int | None = None
    contexts: list[str] = field(default_factory=list)
    slot: dict[str, Any] | None = None
    pages: list[int] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    stack: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (omits an empty stack)."""
        d: dict[str, Any] = {"kind": self.kind, "message": self.message, "cpu": self.cpu,
                             "contexts": list(self.contexts), "slot": _copy(self.slot), "pages": list(self.pages),
                             "steps": list(self.steps)}
        if self.stack is not None:
            d["stack"] = self.stack
        return d

    def _repr_html_(self) -> str:
        # Presentation lives in highmem.report.notebook, imported only when a notebook displays this.
        from highmem.report.notebook import finding_html

        return finding_html(self)

    @property
    def key(self) -> tuple[Any, ...]:
        """Identity for de-duplication within one run."""
        return (self.kind, tuple(self.contexts), None if self.slot is None else self.slot.get("idx"))
