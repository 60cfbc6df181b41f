"""The kernel's virtual memory layout of a booted machine, as data and as text.

Top-down, as a boot log would list it: the unused top page, the fixmap
(with the kmap slots of every CPU), the boot-time fixmap slots, pkmap,
vmalloc and lowmem at PAGE_OFFSET; and the per-CPU slot table
(CPU x km_type -> idx, fixmap index, virtual address).
"""

from __future__ import annotations

from typing import Any

from highmem.hw.physmem import PAGE_SHIFT, PAGE_SIZE, Zone
from highmem.kernel.machine import Machine

__all__ = ["layout_dict", "regions", "render_layout"]


def regions(m: Machine) -> list[dict[str, Any]]:
    """The layout's regions top-down: name, start (inclusive), end (exclusive), note."""
    fix = m.fixmap
    # __fix_to_virt(0) is the page *at* FIXADDR_TOP; what lies above it is unused.
    out: list[dict[str, Any]] = []
    if m.FIXADDR_TOP + PAGE_SIZE < 1 << 32:
        # 2.4 puts FIXADDR_TOP one page below 4 GiB; from 2.6 on it is the last page itself
        # (0xfffff000), and nothing lies above the first fixmap page.
        out.append({"name": "unused", "start": m.FIXADDR_TOP + PAGE_SIZE, "end": 1 << 32,
                    "note": "above the first fixmap page"})
    for name, first, last, _top, bottom in fix.entries():
        out.append({"name": name, "start": bottom, "end": fix.fix_to_virt_unchecked(first) + PAGE_SIZE,
                    "note": f"fixmap {first}" + (f"..{last}" if last != first else "")})
    if m.HIGHMEM:
        end = m.PKMAP_BASE + m.LAST_PKMAP * PAGE_SIZE
        out.append({"name": "pkmap", "start": m.PKMAP_BASE, "end": end,
                    "note": f"LAST_PKMAP {m.LAST_PKMAP} entries for kmap()"})
    out.append({"name": "vmalloc", "start": m.VMALLOC_START, "end": m.VMALLOC_END,
                "note": "VMALLOC_START..VMALLOC_END"})
    out.append({"name": "lowmem", "start": m.PAGE_OFFSET, "end": m.high_memory,
                "note": "PAGE_OFFSET..high_memory, direct map of ZONE_DMA+ZONE_NORMAL"})
    return out


def layout_dict(m: Machine) -> dict[str, Any]:
    """Everything ``highmem layout --json`` prints; integers stay numbers."""
    slots = []
    stack = m.profile.stack_slots
    names = [f"slot{i}" for i in range(m.KM_TYPE_NR)] if stack else [t.name for t in m.km_type]
    if m.FIX_KMAP_BEGIN is not None:
        for cpu in range(m.config.cpus):
            for i, tname in enumerate(names):
                idx = i + m.KM_TYPE_NR * cpu
                slots.append({"cpu": cpu, "type": tname, "idx": idx,
                              "fixmap": m.FIX_KMAP_BEGIN + idx, "vaddr": m.kmap_vaddr[idx],
                              "pte": m.kmap_pte - idx * m.pte_size})
    zones = []
    for z in Zone:
        a, b = m.mem_map.zone_span(z)
        zones.append({"name": z.name, "start_pfn": a, "end_pfn": b, "pages": b - a})
    return {
        "profile": m.config.profile,
        "config": {f"CONFIG_{k}": v for k, v in m.config.options.items()},
        "cpus": m.config.cpus,
        "NR_CPUS": m.NR_CPUS,
        "memory": m.max_pfn << PAGE_SHIFT,
        "paging": m.geometry.name,
        "KM_TYPE_NR": m.KM_TYPE_NR,
        "km_types": [t.name for t in m.km_type] if not m.profile.has_kmap_local else [],
        "slot_stack": "per-task" if m.profile.has_kmap_local else ("per-CPU" if stack else None),
        "PAGE_OFFSET": m.PAGE_OFFSET,
        "FIXADDR_TOP": m.FIXADDR_TOP,
        "FIXADDR_START": m.FIXADDR_START,
        "FIX_KMAP_BEGIN": m.FIX_KMAP_BEGIN,
        "FIX_KMAP_END": m.FIX_KMAP_END,
        "__end_of_permanent_fixed_addresses": m.fixmap.end_of_permanent,
        "__end_of_fixed_addresses": m.fixmap.end_of_fixed,
        "PKMAP_BASE": m.PKMAP_BASE if m.HIGHMEM else None,
        "LAST_PKMAP": m.LAST_PKMAP if m.HIGHMEM else None,
        "VMALLOC_START": m.VMALLOC_START,
        "VMALLOC_END": m.VMALLOC_END,
        "high_memory": m.high_memory,
        "max_low_pfn": m.max_low_pfn,
        "highstart_pfn": m.highstart_pfn,
        "max_pfn": m.max_pfn,
        "kmap_pte": m.kmap_pte,
        "zones": zones,
        "regions": regions(m),
        "kmap_slots": slots,
        "boot_log": list(m.boot_log),
    }


def _size(n: int) -> str:
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20} MB"
    return f"{n >> 10} kB"


def render_layout(m: Machine, console: Any) -> None:
    """Print the layout and the slot table with ``rich`` to ``console``."""
    from rich.table import Table

    d = layout_dict(m)
    console.print(f"[bold]{m.config.profile}[/bold]: {m.config.cpus} online CPUs, NR_CPUS={m.NR_CPUS}, "
                  f"{d['memory'] >> 20} MiB, {m.geometry.name}, KM_TYPE_NR={m.KM_TYPE_NR}")
    for line in m.boot_log:
        console.print(f"  {line}", highlight=False)
    t = Table(title="virtual kernel memory layout (top down)", title_justify="left")
    # Never an ellipsis: a name too long for a narrow terminal folds onto a second line, whole.
    t.add_column("region", overflow="fold")
    t.add_column("start", justify="right", no_wrap=True, min_width=10)
    t.add_column("end", justify="right", no_wrap=True, min_width=10)
    t.add_column("size", justify="right", no_wrap=True, min_width=8)
    t.add_column("note")
    for r in d["regions"]:
        t.add_row(r["name"], f"{r['start']:#010x}", f"{(r['end'] - 1):#010x}" if r["end"] else "-",
                  _size(r["end"] - r["start"]), r["note"])
    console.print(t)
    console.print(f"FIXADDR_TOP {m.FIXADDR_TOP:#010x}  FIXADDR_START {m.FIXADDR_START:#010x}  "
                  f"FIX_KMAP_BEGIN {m.FIX_KMAP_BEGIN}  FIX_KMAP_END {m.FIX_KMAP_END}  "
                  f"kmap_pte {m.kmap_pte:#x} (phys)", highlight=False, soft_wrap=True)
    if not d["kmap_slots"]:
        console.print("no kmap slots: HIGHMEM=n")
        return
    title = "kmap_atomic slots: idx = type + KM_TYPE_NR*cpu, vaddr = __fix_to_virt(FIX_KMAP_BEGIN + idx)"
    if m.profile.stack_slots:
        title = (f"kmap slots ({d['slot_stack']} stack, the km_type argument is ignored): "
                 "idx = depth + KM_TYPE_NR*cpu")
    s = Table(title=title, title_justify="left")
    ncpu = m.config.cpus
    if ncpu <= 4:
        s.add_column("slot" if m.profile.stack_slots else "km_type", overflow="fold")
        for cpu in range(ncpu):
            s.add_column(f"CPU {cpu}: vaddr (fixmap)", justify="right", overflow="fold")
        by_type: dict[str, list[str]] = {}
        for slot in d["kmap_slots"]:
            by_type.setdefault(slot["type"], []).append(f"{slot['vaddr']:#010x} ({slot['fixmap']})")
        for tname, cells in by_type.items():
            s.add_row(tname, *cells)
    else:
        for col in ("CPU", "km_type", "idx", "fixmap", "vaddr"):
            s.add_column(col, justify="left" if col == "km_type" else "right", overflow="fold")
        for slot in d["kmap_slots"]:
            s.add_row(str(slot["cpu"]), slot["type"], str(slot["idx"]), str(slot["fixmap"]),
                      f"{slot['vaddr']:#010x}")
    console.print(s)
