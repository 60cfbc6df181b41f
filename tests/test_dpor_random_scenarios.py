"""On random two-CPU scenarios, DPOR finds every kind plain bounded exhaustive search finds.

The scenarios share pages across CPUs (stores and checked loads race), take a shared spin lock,
disable interrupts, leak or mis-unmap slots, take permanent kmaps (one task), take optional interrupts and
softirqs whose handlers map slots too, sometimes run a second task on one CPU, and make wild
loads and stores into the kernel page tables through the direct map (a slot's PTE, the pgd entry
above the fixmap): every resource a footprint names gets exercised, so a dependency the
footprints miss shows up as a kind DPOR does not report.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz_support import fuzz_examples
from highmem.scenarios import load_toml_text
from highmem.sim.explore import explore

PAGES = ("A", "B", "C")
TYPES = ("KM_USER0", "KM_USER1", "KM_BH_IRQ")
#: Direct-map addresses of page-table entries of this machine (linux-2.4, 2 CPUs, 2 GiB, 2-level
#: tables): the PTEs of KM_USER0 on CPU 0 and 1 (kmap_pte - idx * 4) and the pgd entry of the top
#: 4 MiB (swapper_pg_dir + 1023 * 4), which holds the fixmap.
PAGE_TABLE_ENTRIES = (0xC0400FC8, 0xC0400FA8, 0xC0101FFC)


@st.composite
def _block(draw: Any, ctx: str, n: int, irq: bool) -> list[str]:
    """One use of a slot: map, some accesses, and an unmap (or a mistake instead of one)."""
    page = draw(st.sampled_from(PAGES))
    typ = draw(st.sampled_from(TYPES))
    v = f"v{n}"
    if ctx == "t0" and draw(st.integers(0, 5)) == 0:
        # A permanent kmap (the pkmap pool, kmap_lock, and a flush of every CPU's TLB on a wrap),
        # in one task only: with both CPUs' kmaps contending, DPOR, which does not bound switches
        # between CPUs, has thousands of classes where plain search's bounds leave hundreds.
        return [f'{{ op = "kmap", page = "{page}", as = "{v}" }}',
                f'{{ op = "load", addr = "{v}", size = 1, expect = "{page.lower()}" }}',
                f'{{ op = "kunmap", page = "{page}" }}']
    ops = [f'{{ op = "kmap_atomic", page = "{page}", type = "{typ}", as = "{v}" }}']
    for _ in range(draw(st.integers(0, 2))):
        if draw(st.booleans()):
            ops.append(f'{{ op = "load", addr = "{v}", size = 1, expect = "{page.lower()}" }}')
        else:
            ops.append(f'{{ op = "store", addr = "{v}", data = "{draw(st.sampled_from("abcx"))}" }}')
    end = draw(st.sampled_from(["unmap", "unmap", "unmap", "leak", "wrong"]))
    if end == "unmap":
        ops.append(f'{{ op = "kunmap_atomic", addr = "{v}", type = "{typ}" }}')
    elif end == "wrong":
        other = next(t for t in TYPES if t != typ)
        ops.append(f'{{ op = "kunmap_atomic", addr = "{v}", type = "{other}" }}')
    if not irq and draw(st.integers(0, 3)) == 0:
        ops = ['{ op = "spin_lock", lock = "L" }'] + ops + ['{ op = "spin_unlock", lock = "L" }']
    elif draw(st.integers(0, 3)) == 0:
        ops = [f'{{ op = "save_flags", as = "f{n}" }}', '{ op = "cli" }'] + ops + \
              [f'{{ op = "restore_flags", flags = "f{n}" }}']
    return ops


@st.composite
def scenarios(draw: Any) -> str:
    """A two-CPU linux-2.4 scenario in TOML."""
    out = ['[scenario]\nname = "random"\n', '[machine]\nprofile = "linux-2.4"\ncpus = 2\nmemory = "2G"\n',
           "[pages]\n" + "".join(f'{p} = {{ fill = "{p.lower()}" }}\n' for p in PAGES)]
    for cpu in (0, 1):
        ops: list[str] = []
        for b in range(draw(st.integers(1, 2))):
            ops += draw(_block(f"t{cpu}", cpu * 10 + b, False))
            if draw(st.booleans()):
                ops.append('{ op = "work" }')
        if draw(st.integers(0, 4)) == 0:
            # A wild access to a page-table entry: a load reads it, a store of zeros clears it.
            addr = draw(st.sampled_from(PAGE_TABLE_ENTRIES))
            wild = (f'{{ op = "load", addr = {addr:#x}, size = 4 }}' if draw(st.booleans())
                    else f'{{ op = "store", addr = {addr:#x}, data = [0, 0, 0, 0] }}')
            ops.insert(draw(st.integers(0, len(ops))), wild)
        out.append(f'[[task]]\nname = "t{cpu}"\ncpu = {cpu}\nops = [\n  ' + ",\n  ".join(ops) + ",\n]\n")
    if draw(st.integers(0, 3)) == 0:
        # A second task on one CPU: which one its CPU takes first, and three exits.
        cpu = draw(st.integers(0, 1))
        ops = draw(_block("t2", 20, False))
        out.append(f'[[task]]\nname = "t2"\ncpu = {cpu}\nops = [\n  ' + ",\n  ".join(ops) + ",\n]\n")
    if draw(st.integers(0, 3)) == 0:
        cpu = draw(st.integers(0, 1))
        ops = draw(_block("soft", 80, True))
        out.append(f'[[softirq]]\nname = "soft"\ncpu = {cpu}\nmax = 1\nops = [\n  ' + ",\n  ".join(ops) + ",\n]\n")
    if draw(st.booleans()):
        cpu = draw(st.integers(0, 1))
        ops = draw(_block("irq", 90, True))
        out.append(f'[[irq]]\nname = "dev"\ncpu = {cpu}\nmax = {draw(st.integers(1, 2))}\n'
                   "ops = [\n  " + ",\n  ".join(ops) + ",\n]\n")
    return "\n".join(out)


@settings(max_examples=fuzz_examples(25), deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_dpor_random_scenario_finds_what_exhaustive_finds(text: str) -> None:
    """Every kind plain exhaustive search finds on a random scenario, DPOR finds, and DPOR ends in fewer schedules."""
    sc = load_toml_text(text, "random.toml")
    plain = explore(sc, sc.config(), strategy="exhaustive", schedules=800, do_shrink=False)
    dpor = explore(sc, sc.config(), strategy="dpor", schedules=3000, do_shrink=False)
    missed = set(plain.counts) - set(dpor.counts)
    assert not missed, f"DPOR missed {sorted(missed)} ({dpor.schedules} schedules) on:\n{text}"
    if plain.exhausted:
        assert dpor.exhausted, text
