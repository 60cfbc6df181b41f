"""The checker: every finding kind from a minimal scenario, with its exact fields.

Slots follow the spec's formulas: idx = type + KM_TYPE_NR*cpu (KM_TYPE_NR = 8 in 2.4.22),
fixmap = FIX_KMAP_BEGIN + idx, vaddr = 0xffffe000 - fixmap*0x1000, with FIX_KMAP_BEGIN = 9 on the
default SMP machine (FIX_APIC_BASE + 8 IO-APICs) and 0 with SMP=n and X86_F00F_WORKS_OK=y.
Scenario pages are the first high frames, from pfn 0x38000 (MAXMEM_PFN) on, in declaration order.
"""

from __future__ import annotations

from typing import Any

import pytest

from highmem.scenarios import load_toml_text
from highmem.scenarios.model import ContextSpec, PageSpec, Scenario
from highmem.sim.explore import run_once
from highmem.sim.findings import FINDING_KINDS
from highmem.sim.strategy import DefaultStrategy

KM = {"KM_BOUNCE_READ": 0, "KM_USER0": 3, "KM_USER1": 4, "KM_BH_IRQ": 5, "KM_SOFTIRQ0": 6}
P0, P1 = 0x38000, 0x38001
DEBUG = """
[machine]
config = { DEBUG_HIGHMEM = true }
"""
UP = """
[machine]
cpus = 1
nr_cpus = 1
memory = "1G"
config = { SMP = false }
"""

def slot(type_: str, cpu: int = 0, begin: int = 9) -> dict[str, Any]:
    """The slot dict of a finding, from the spec's formulas."""
    idx = KM[type_] + 8 * cpu
    fix = begin + idx
    return {"type": type_, "idx": idx, "fixmap": fix, "vaddr": 0xFFFFE000 - fix * 0x1000}


def run(text: str) -> Any:
    sc = load_toml_text(text, "t.toml")
    res, _ = run_once(sc, sc.config(), DefaultStrategy())
    return res


def finding(kind: str, message: str, cpu: int | None, contexts: list[str], slot_: dict[str, Any] | None,
            pages: list[int], steps: list[int]) -> dict[str, Any]:
    return {"kind": kind, "message": message, "cpu": cpu, "contexts": contexts, "slot": slot_, "pages": pages,
            "steps": steps}


def dicts(res: Any) -> list[dict[str, Any]]:
    return [f.to_dict() for f in res.findings]


def test_checker_slot_formula_matches_spec_examples() -> None:
    """The helper reproduces the spec's worked SMP32 numbers (cpu 1 KM_USER0 at 0xfffea000)."""
    assert slot("KM_USER0", 1)["vaddr"] == 0xFFFEA000
    assert slot("KM_BOUNCE_READ", 0)["vaddr"] == 0xFFFF5000
    assert slot("KM_USER0", 0, begin=0)["vaddr"] == 0xFFFFB000


def test_checker_sleep_in_atomic_on_schedule() -> None:
    """schedule() while holding KM_USER0 on CPU 1 is sleep-in-atomic, naming CPU 1's slot."""
    res = run("""
[pages]
A = { fill = "A" }

[[task]]
name = "holder"
cpu = 1
ops = [
  { op = "kmap_atomic", page = "A", type = "KM_USER0", as = "a" },
  { op = "schedule" },
  { op = "kunmap_atomic", addr = "a", type = "KM_USER0" },
]
""")
    assert res.status == "done"
    assert dicts(res) == [finding(
        "sleep-in-atomic",
        "holder called schedule() on CPU 1 holding slot KM_USER0 of CPU 1 (fixmap 20, 0xfffea000) (page A (0x38000), "
        "mapped at step 1): the next task on CPU 1 may take the slot",
        1, ["holder"], slot("KM_USER0", 1), [P0], [1, 2])]


def test_checker_sleep_in_atomic_on_sleep() -> None:
    """Sleeping on a wait queue while holding KM_USER0 is sleep-in-atomic ("went to sleep")."""
    res = run("""
[pages]
A = { fill = "A" }

[[task]]
name = "holder"
ops = [
  { op = "kmap_atomic", page = "A", type = "KM_USER0", as = "a" },
  { op = "sleep", queue = "q" },
  { op = "kunmap_atomic", addr = "a", type = "KM_USER0" },
]

[[task]]
name = "waker"
ops = [{ op = "wake", queue = "q" }]
""")
    assert res.status == "done"
    assert dicts(res) == [finding(
        "sleep-in-atomic",
        "holder went to sleep on CPU 0 holding slot KM_USER0 of CPU 0 (fixmap 12, 0xffff2000) (page A (0x38000), "
        "mapped at step 1): the next task on CPU 0 may take the slot",
        0, ["holder"], slot("KM_USER0"), [P0], [1, 2])]


def test_checker_exit_in_atomic_uniprocessor() -> None:
    """A task exiting with KM_USER0 held on an SMP=n kernel (FIX_KMAP_BEGIN 0) is exit-in-atomic."""
    res = run(UP + """
[pages]
A = { fill = "A" }

[[task]]
name = "quitter"
ops = [{ op = "kmap_atomic", page = "A", type = "KM_USER0", as = "a" }, { op = "exit" }]
""")
    assert res.status == "done"
    assert dicts(res) == [finding(
        "exit-in-atomic",
        "quitter exited on CPU 0 holding slot KM_USER0 of CPU 0 (fixmap 3, 0xffffb000) (page A (0x38000), "
        "mapped at step 1) without kunmap_atomic",
        0, ["quitter"], slot("KM_USER0", 0, begin=0), [P0], [1, 2])]


IRQ_CLOBBER = """
[pages]
user = { fill = "u" }
irqbuf = { fill = "i" }

[[task]]
name = "writer"
ops = [
  { op = "kmap_atomic", page = "user", type = "KM_USER0", as = "p" },
  { op = "raise_irq", irq = "eth0" },
  { op = "load", addr = "p", size = 1 },
  { op = "kunmap_atomic", addr = "p", type = "KM_USER0" },
]

[[irq]]
name = "eth0"
max = 0
ops = [
  { op = "kmap_atomic", page = "irqbuf", type = "KM_USER0", as = "q" },
  { op = "kunmap_atomic", addr = "q", type = "KM_USER0" },
]
"""


def test_checker_stale_access_after_irq_clobber() -> None:
    """An IRQ mapping KM_USER0 under the task's mapping makes the task's next load a stale-access."""
    res = run(IRQ_CLOBBER)
    # steps: map 1, raise 2, the load's point 3 delivers the irq (map 4, unmap 5), the load executes at 5.
    assert dicts(res) == [finding(
        "stale-access",
        "writer did a load from 0xffff2000 on CPU 0 expecting page user (0x38000) (mapped in slot KM_USER0 of CPU 0 "
        "(fixmap 12, 0xffff2000) at step 1) but reached page irqbuf (0x38001): eth0#1 mapped the slot at step 4",
        0, ["writer", "eth0#1"], slot("KM_USER0"), [P0, P1], [1, 4, 5])]


def test_checker_stale_access_after_unmap_and_reuse() -> None:
    """Loading through an unmapped slot that an IRQ has since reused is a stale-access."""
    res = run("""
[pages]
user = { fill = "u" }
irqbuf = { fill = "i" }

[[task]]
name = "writer"
ops = [
  { op = "kmap_atomic", page = "user", type = "KM_USER0", as = "p" },
  { op = "kunmap_atomic", addr = "p", type = "KM_USER0" },
  { op = "raise_irq", irq = "eth0" },
  { op = "load", addr = "p", size = 1 },
]

[[irq]]
name = "eth0"
max = 0
ops = [
  { op = "kmap_atomic", page = "irqbuf", type = "KM_USER0", as = "q" },
  { op = "kunmap_atomic", addr = "q", type = "KM_USER0" },
]
""")
    assert dicts(res) == [finding(
        "stale-access",
        "writer did a load from 0xffff2000 on CPU 0 after unmapping it; the slot held page user (0x38000) for it "
        "but now "
        "reaches page irqbuf (0x38001)",
        0, ["writer"], slot("KM_USER0"), [P0, P1], [1, 6])]


def test_checker_use_after_unmap() -> None:
    """Loading through one's own unmapped, not yet reused slot is use-after-unmap (non-debug kernel); the
    message gives the unmap's step, and the steps are map, unmap, load."""
    res = run("""
[pages]
A = { fill = "A" }

[[task]]
name = "t"
ops = [
  { op = "kmap_atomic", page = "A", type = "KM_USER0", as = "a" },
  { op = "kunmap_atomic", addr = "a", type = "KM_USER0" },
  { op = "load", addr = "a", size = 1 },
]
""")
    assert res.status == "done"
    assert dicts(res) == [finding(
        "use-after-unmap",
        "t did a load from 0xffff2000 on CPU 0 after unmapping it at step 2 (slot KM_USER0 of CPU 0 (fixmap 12, "
        "0xffff2000), mapped at step 1); it still reached page A (0x38000) only because nobody reused the slot yet",
        0, ["t"], slot("KM_USER0"), [P0], [1, 2, 3])]


def test_checker_foreign_slot() -> None:
    """A task loading through a slot address another task mapped is foreign-slot, naming the mapper."""
    res = run("""
[pages]
A = { fill = "A" }

[[task]]
name = "t1"
ops = [
  { op = "kmap_atomic", page = "A", type = "KM_USER0", as = "a" },
  { op = "kunmap_atomic", addr = "a", type = "KM_USER0" },
]

[[task]]
name = "t2"
ops = [{ op = "load", addr = 0xffff2000, size = 1 }]
""")
    assert dicts(res) == [finding(
        "foreign-slot",
        "t2 did a load from 0xffff2000 on CPU 0, a kmap slot it never mapped (t1 mapped it at step 1)",
        0, ["t2", "t1"], slot("KM_USER0"), [P0], [3])]


def test_checker_slot_in_use_debug_bug() -> None:
    """DEBUG_HIGHMEM: an IRQ mapping the task's busy KM_USER0 slot BUGs; finding slot-in-use, run stopped."""
    res = run(DEBUG + IRQ_CLOBBER)
    bug = "kernel BUG in kmap_atomic: slot KM_USER0 of CPU 0 (fixmap 12, 0xffff2000) is already mapped"
    assert res.status == "stopped" and res.stop_reason == bug
    assert dicts(res) == [finding("slot-in-use", f"eth0#1 on CPU 0: {bug}", 0, ["eth0#1", "writer"],
                                  slot("KM_USER0"), [P0], [1, 4])]


WRONG_UNMAP = """
[pages]
A = { fill = "A" }

[[task]]
name = "t"
ops = [
  { op = "kmap_atomic", page = "A", type = "KM_USER0", as = "a" },
  { op = "kunmap_atomic", addr = "a", type = "KM_USER1" },
]
"""


def test_checker_wrong_unmap_type_mismatch() -> None:
    """Non-debug: unmapping a KM_USER0 mapping as KM_USER1 is wrong-unmap; the USER0 slot stays held."""
    res = run(WRONG_UNMAP)
    assert res.status == "done"
    assert dicts(res) == [
        finding("wrong-unmap", "t unmapped 0xffff2000 as KM_USER1 on CPU 0, but mapped it as KM_USER0 at step 1: "
                "the KM_USER0 slot stays mapped", 0, ["t"], slot("KM_USER0"), [P0], [1, 2]),
        finding("exit-in-atomic", "t exited on CPU 0 holding slot KM_USER0 of CPU 0 (fixmap 12, 0xffff2000) "
                "(page A (0x38000), mapped at step 1) without kunmap_atomic", 0, ["t"], slot("KM_USER0"), [P0], [1, 2]),
    ]


def test_checker_wrong_unmap_of_unheld_slot() -> None:
    """Non-debug: unmapping a slot address one never mapped is wrong-unmap without a slot."""
    res = run("""
[[task]]
name = "t"
ops = [{ op = "kunmap_atomic", addr = 0xffff2000, type = "KM_USER0" }]
""")
    assert dicts(res) == [finding(
        "wrong-unmap", "t unmapped 0xffff2000 as KM_USER0 on CPU 0 but holds no atomic mapping at that address",
        0, ["t"], None, [], [1])]


def test_checker_wrong_unmap_debug_bug() -> None:
    """DEBUG_HIGHMEM: kunmap_atomic with the wrong type BUGs naming the type's own slot (KM_USER1: fixmap 13)."""
    res = run(DEBUG + WRONG_UNMAP)
    bug = "kernel BUG in kunmap_atomic: address 0xffff2000 is not the slot of KM_USER1 on CPU 0 (fixmap 13, 0xffff1000)"
    assert res.status == "stopped" and res.stop_reason == bug
    assert dicts(res) == [finding("wrong-unmap", f"t on CPU 0: {bug}", 0, ["t"], None, [], [2])]


def test_checker_page_fault_after_debug_unmap() -> None:
    """DEBUG_HIGHMEM clears the PTE at unmap, so a later load Oopses: page-fault naming the released slot and
    the unmap's step."""
    res = run(DEBUG + """
[pages]
A = { fill = "A" }

[[task]]
name = "t"
ops = [
  { op = "kmap_atomic", page = "A", type = "KM_USER0", as = "a" },
  { op = "kunmap_atomic", addr = "a", type = "KM_USER0" },
  { op = "load", addr = "a", size = 1 },
]
""")
    oops = "Oops: page fault on CPU 0: read from 0xffff2000, whose pte is not present"
    assert res.status == "stopped" and res.stop_reason == oops
    [f] = dicts(res)
    assert (f["kind"], f["cpu"], f["contexts"], f["slot"], f["pages"], f["steps"]) == (
        "page-fault", 0, ["t"], slot("KM_USER0"), [], [1, 2, 3])
    assert f["message"].startswith("t faulted on CPU 0 at 0xffff2000 after unmapping it at step 2")
    assert f["message"].endswith(f"(slot KM_USER0 of CPU 0 (fixmap 12, 0xffff2000)): {oops}")


def test_checker_data_mismatch_load_and_final_expect() -> None:
    """A load whose expect differs and an [[expect]] that differs at the end are two data-mismatch findings."""
    res = run("""
[pages]
A = { fill = "A" }

[[task]]
name = "t"
ops = [
  { op = "kmap_atomic", page = "A", type = "KM_USER0", as = "a" },
  { op = "load", addr = "a", expect = "AB" },
  { op = "kunmap_atomic", addr = "a", type = "KM_USER0" },
]

[[expect]]
page = "A"
offset = 1
data = "Z"
""")
    assert res.status == "done"
    assert dicts(res) == [
        finding("data-mismatch", "t loaded 'AA' from 0xffff2000 on CPU 0 but expected 'AB'", 0, ["t"], None, [],
                [2]),
        finding("data-mismatch", "at the end, page A (0x38000) holds 'A' at offset 1 but the scenario expects 'Z'",
                None, [], None, [P0], [3]),
    ]


@pytest.mark.parametrize(("kind", "type_", "what"), [("irq", "KM_BH_IRQ", "hardirq"),
                                                     ("softirq", "KM_SOFTIRQ0", "softirq")])
def test_checker_leaked_mapping_in_handler(kind: str, type_: str, what: str) -> None:
    """An interrupt or softirq handler returning with its mapping still held is leaked-mapping."""
    raise_op = "raise_irq" if kind == "irq" else "raise_softirq"
    res = run(f"""
[pages]
buf = {{ fill = "b" }}

[[task]]
name = "t"
ops = [{{ op = "{raise_op}", {kind} = "h" }}, {{ op = "work", steps = 1 }}]

[[{kind}]]
name = "h"
max = 0
ops = [{{ op = "kmap_atomic", page = "buf", type = "{type_}", as = "v" }}]
""")
    s = slot(type_)
    assert res.status == "done"
    assert dicts(res) == [finding(
        "leaked-mapping",
        f"{what} handler h#1 returned on CPU 0 still holding slot {type_} of CPU 0 (fixmap {s['fixmap']}, "
        f"{s['vaddr']:#010x}) (page buf (0x38000), mapped at step 3)",
        0, ["h#1"], s, [P0], [3, 3])]


def test_checker_deadlock() -> None:
    """A task sleeping on a queue nobody wakes: deadlock naming the task, the queue and the step."""
    res = run("""
[[task]]
name = "w"
ops = [{ op = "work", steps = 2 }, { op = "sleep", queue = "q" }]
""")
    assert res.status == "deadlocked"
    assert dicts(res) == [finding("deadlock", "nothing can run and 1 context waits: w sleeps on 'q' since step 3",
                                  None, ["w"], None, [], [3, 3])]


def test_checker_kernel_bug() -> None:
    """local_bh_enable without local_bh_disable is any other kernel BUG: kernel-bug."""
    res = run("""
[[task]]
name = "t"
ops = [{ op = "local_bh_enable" }]
""")
    assert res.status == "stopped"
    assert dicts(res) == [finding(
        "kernel-bug", "t on CPU 0: kernel BUG in local_bh_enable: local_bh_count of CPU 0 would go negative",
        0, ["t"], None, [], [1])]


def _python(fn: Any, max_steps: int = 200_000) -> Scenario:
    sc = Scenario(name="py", machine={}, pages=[PageSpec("A")], contexts=[ContextSpec("task", "t", 0, fn=fn)],
                  max_steps=max_steps)
    sc.python = True
    sc.digest = "x"
    return sc


def faulty_body(k: Any, pages: Any) -> None:
    k.save_flags()
    raise ValueError("bad value in scenario")


def test_checker_python_exception_keeps_user_stack() -> None:
    """A Python body raising ValueError: python-exception whose stack text names the user's function."""
    sc = _python(faulty_body)
    res, _ = run_once(sc, sc.config(), DefaultStrategy())
    assert res.status == "stopped" and res.stop_reason == "ValueError in t"
    [f] = res.findings
    assert (f.kind, f.message, f.cpu, f.contexts, f.steps) == (
        "python-exception", "t raised ValueError: bad value in scenario", 0, ["t"], [1])
    assert f.stack is not None
    assert "faulty_body" in f.stack and "ValueError: bad value in scenario" in f.stack
    assert f.to_dict()["stack"] == f.stack


def test_checker_step_budget_of_endless_python_loop() -> None:
    """A Python body looping forever stops at max_steps + 1 with a step-budget finding."""
    def spin_forever(k: Any, pages: Any) -> None:
        a = k.kmap_atomic(pages["A"], "KM_USER0")
        while True:
            k.load(a, 1)

    sc = _python(spin_forever, max_steps=50)
    res, _ = run_once(sc, sc.config(), DefaultStrategy())
    assert res.status == "stopped" and res.stop_reason == "step budget" and res.steps == 51
    found = dicts(res)
    # The user's stack is kept: it shows where the endless loop is.
    assert "in spin_forever" in found[0].pop("stack")
    assert found == [finding("step-budget", "t did not finish within the step budget of 50 steps", 0, ["t"],
                             None, [], [51])]


KIND_TESTS = {
    "sleep-in-atomic": test_checker_sleep_in_atomic_on_schedule,
    "exit-in-atomic": test_checker_exit_in_atomic_uniprocessor,
    "stale-access": test_checker_stale_access_after_irq_clobber,
    "use-after-unmap": test_checker_use_after_unmap,
    "foreign-slot": test_checker_foreign_slot,
    "slot-in-use": test_checker_slot_in_use_debug_bug,
    "wrong-unmap": test_checker_wrong_unmap_type_mismatch,
    "page-fault": test_checker_page_fault_after_debug_unmap,
    "kernel-bug": test_checker_kernel_bug,
    "data-mismatch": test_checker_data_mismatch_load_and_final_expect,
    "leaked-mapping": test_checker_leaked_mapping_in_handler,
    "deadlock": test_checker_deadlock,
    "python-exception": test_checker_python_exception_keeps_user_stack,
    "step-budget": test_checker_step_budget_of_endless_python_loop,
}


def test_checker_every_kind_has_a_test() -> None:
    """Every finding kind the checker documents has a test in this file."""
    assert set(KIND_TESTS) == set(FINDING_KINDS)


# -- kinds of the later generations (2.6.32 debug checks, stack-based unmaps, other WARNs) ------------------

#: linux-2.6.37 (2.6.39) default SMP machine: FIX_KMAP_BEGIN 69, FIXADDR_TOP 0xfffff000, first high pfn 0x377fe.
H26 = 0x377FE


def stack_slot(idx: int, type_: str) -> dict[str, Any]:
    """2.6.39 arch/x86/mm/highmem_32.c: stack slot idx on CPU 0 is fixmap 69 + idx at 0xfffff000 - fixmap*4096."""
    return {"type": type_, "idx": idx, "fixmap": 69 + idx, "vaddr": 0xFFFFF000 - (69 + idx) * 0x1000}


def test_checker_wrong_context_debug_kmap_atomic() -> None:
    """2.6.32 mm/highmem.c debug_kmap_atomic check B: KM_IRQ0 mapped in process context with interrupts enabled
    WARNs; the checker reports the WARN as wrong-context, and the run goes on (a WARN is not fatal)."""
    res = run("""
[machine]
profile = "linux-2.6"
config = { DEBUG_HIGHMEM = true }

[pages]
A = { fill = "A" }

[[task]]
name = "t"
ops = [
  { op = "kmap_atomic", page = "A", type = "KM_IRQ0", as = "a" },
  { op = "load", addr = "a", size = 1, expect = "A" },
  { op = "kunmap_atomic", addr = "a", type = "KM_IRQ0" },
]
""")
    assert res.status == "done"
    assert dicts(res) == [finding(
        "wrong-context",
        "t on CPU 0: WARNING in debug_kmap_atomic on CPU 0: KM_IRQ0 is an interrupt slot but interrupts are enabled",
        0, ["t"], None, [], [1])]


def test_checker_unmap_order_stack_profile() -> None:
    """2.6.39 arch/x86/mm/highmem_32.c __kunmap_atomic clears the *top* slot whatever address it is given: with
    A, B, C in stack slots 0, 1, 2, unmapping B (step 4) tears down C's slot 2, and unmapping C (step 5) then
    tears down B's slot 1; A's unmap (step 6) is LIFO again.  Two unmap-order findings, one per victim."""
    res = run("""
[machine]
profile = "linux-2.6.37"

[pages]
A = { fill = "A" }
B = { fill = "B" }
C = { fill = "C" }

[[task]]
name = "t"
ops = [
  { op = "kmap_atomic", page = "A", type = "KM_USER0", as = "a" },
  { op = "kmap_atomic", page = "B", type = "KM_USER1", as = "b" },
  { op = "kmap_atomic", page = "C", type = "KM_SOFTIRQ0", as = "c" },
  { op = "kunmap_atomic", addr = "b", type = "KM_USER1" },
  { op = "kunmap_atomic", addr = "c", type = "KM_SOFTIRQ0" },
  { op = "kunmap_atomic", addr = "a", type = "KM_USER0" },
]
""")
    assert res.status == "done"
    b, c = stack_slot(1, "KM_USER1"), stack_slot(2, "KM_SOFTIRQ0")
    assert dicts(res) == [
        finding("unmap-order",
                f"t unmapped {b['vaddr']:#010x} (its mapping of page B ({H26 + 1:#x}), stack slot idx 1) out of "
                "LIFO order "
                f"on CPU 0: the kernel cleared the top slot idx 2, which held t's mapping of page C ({H26 + 2:#x}) "
                f"(step 3), and {b['vaddr']:#010x} stays mapped",
                0, ["t"], b, [H26 + 1, H26 + 2], [2, 3, 4]),
        finding("unmap-order",
                f"t unmapped {c['vaddr']:#010x} (its mapping of page C ({H26 + 2:#x}), stack slot idx 2) out of "
                "LIFO order "
                f"on CPU 0: the kernel cleared the top slot idx 1, which held t's mapping of page B ({H26 + 1:#x}) "
                f"(step 2), and {c['vaddr']:#010x} stays mapped",
                0, ["t"], c, [H26 + 2, H26 + 1], [3, 2, 5]),
    ]


def test_checker_kernel_warning_other_warn() -> None:
    """5.15 mm/highmem.c kunmap_local_indexed: an address below PAGE_OFFSET is WARN_ON_ONCE and ignored; a
    WARN the checker has no specific kind for is kernel-warning."""
    res = run("""
[machine]
profile = "linux-5.11"

[[task]]
name = "t"
ops = [{ op = "kunmap_local", addr = 0x08048000 }, { op = "work", steps = 1 }]
""")
    assert res.status == "done"
    assert dicts(res) == [finding(
        "kernel-warning", "t on CPU 0: WARNING in kunmap_local_indexed on CPU 0: 0x08048000 is below PAGE_OFFSET",
        0, ["t"], None, [], [1])]


KIND_TESTS.update({
    "wrong-context": test_checker_wrong_context_debug_kmap_atomic,
    "unmap-order": test_checker_unmap_order_stack_profile,
    "kernel-warning": test_checker_kernel_warning_other_warn,
})


def out_of_range_body(k: Any, pages: Any) -> None:
    v = k.kmap_atomic(pages["A"], 9)
    k.kunmap_atomic(v, 9)


def test_checker_slot_out_of_range_integer_type() -> None:
    """2.4.22 include/asm-i386/highmem.h: kmap_atomic(page, 9) computes idx = 9 + KM_TYPE_NR * 0, which is
    KM_SKB_SUNRPC_DATA's slot of CPU 1; the map happens, and the checker reports slot-out-of-range."""
    sc = _python(out_of_range_body)
    res, _ = run_once(sc, sc.config(), DefaultStrategy())
    assert res.status == "done"
    s = slot("KM_BOUNCE_READ", 1)
    s["type"] = "KM_TYPE_NR+1"
    s["idx"] = 9
    s["fixmap"] = 18
    s["vaddr"] = 0xFFFFE000 - 18 * 0x1000
    assert dicts(res) == [finding(
        "slot-out-of-range",
        "t mapped page A (0x38000) on CPU 0 with km type 9 (KM_TYPE_NR+1), outside enum km_type (KM_TYPE_NR is 8): "
        "idx = 9 + KM_TYPE_NR * 0 = 9 is slot KM_SKB_SUNRPC_DATA of CPU 1 (fixmap 18, 0xfffec000)",
        0, ["t"], s, [P0], [1])]


KIND_TESTS["slot-out-of-range"] = test_checker_slot_out_of_range_integer_type


def test_checker_remap_held_slot_non_debug_2_4() -> None:
    """2.4.22 include/asm-i386/highmem.h without DEBUG_HIGHMEM: a second kmap_atomic of a type the context still
    holds just overwrites the PTE; the checker reports remap-held-slot naming both mappings."""
    res = run("""
[pages]
A = { fill = "A" }
B = { fill = "B" }

[[task]]
name = "t"
ops = [
  { op = "kmap_atomic", page = "A", type = "KM_USER0", as = "a" },
  { op = "kmap_atomic", page = "B", type = "KM_USER0", as = "b" },
  { op = "kunmap_atomic", addr = "b", type = "KM_USER0" },
]
""")
    assert res.status == "done"
    assert dicts(res) == [finding(
        "remap-held-slot",
        "t mapped page B (0x38001) in slot KM_USER0 of CPU 0 (fixmap 12, 0xffff2000) at step 2 while it still held the "
        "slot for page A (0x38000) (mapped at step 1): the kernel silently replaced its own live mapping, and every "
        "later "
        "access through that address reaches the new page (a DEBUG_HIGHMEM kernel BUGs here)",
        0, ["t"], slot("KM_USER0"), [P0, P1], [1, 2])]


KIND_TESTS["remap-held-slot"] = test_checker_remap_held_slot_non_debug_2_4
