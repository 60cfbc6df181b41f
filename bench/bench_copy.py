"""Copying one 4 KiB high page to another through two atomic mappings, versus a raw bytes copy.

Baseline: ``dst[:] = src`` between two ``bytearray(4096)``.

(a) steady state: src and dst are kmap_atomic'd (KM_USER0 / KM_USER1) once
    before the loop; the loop is ``m.memcpy(dv, sv, 4096)`` alone, through TLB
    entries that stay warm.
(b) the whole copy_highpage sequence per iteration: kmap_atomic(src, KM_USER0),
    kmap_atomic(dst, KM_USER1), memcpy, kunmap_atomic(dst), kunmap_atomic(src).
    Each kmap_atomic flushes its slot's TLB entry, so every memcpy walks the
    page tables for both addresses again.

Baseline placement: two 4 KiB buffers malloc'd one after the other usually
lie 4112 bytes apart, i.e. 16 bytes mod 4096, and the CPU's 4K-aliasing of
loads against earlier stores then slows the raw copy from ~80 ns to ~130 ns
(measured on this machine).  The raw destination is therefore chosen so that
it is between 1 and 3 KiB away from the source modulo 4096: the baseline is
the raw copy at full speed, not a penalised one.

Reported as speed relative to the raw copy, raw_time / highmem_time (target
>= 50%).  For scale, an informational row times the least any Python model
of memcpy can cost: one Python function call whose body is the raw copy
(``copy_call(raw_dst, raw_src)``), interleaved with (a).

Process context on CPU 1 of ``boot(cpus=2, memory="2G")``; after timing, the
destination frame must hold the source's bytes.
"""

from __future__ import annotations

import ctypes
from typing import Any

import highmem
from floor import Row, compare, fmt_ns, ratio_table

__all__ = ["run", "TARGET_SPEED"]

#: Target: the highmem copy runs at least at this fraction of the raw copy's speed.
TARGET_SPEED = 0.5

PAGE = 4096
#: Deterministic page contents: 0..255 repeated, and its reverse for the second source.
PATTERN_A = bytes(range(256)) * (PAGE // 256)
PATTERN_B = bytes(range(255, -1, -1)) * (PAGE // 256)

RAW_STMT = "raw_dst[:] = raw_src"
CALL_STMT = "copy_call(raw_dst, raw_src)"
STEADY_STMT = "m.memcpy(dv, sv, 4096)"
SEQUENCE_STMT = """\
sv = m.kmap_atomic(src, KM_USER0)
dv = m.kmap_atomic(dst, KM_USER1)
m.memcpy(dv, sv, 4096)
m.kunmap_atomic(dv, KM_USER1)
m.kunmap_atomic(sv, KM_USER0)"""

NUMBER = {"raw": 400_000, "call": 400_000, "steady": 100_000, "sequence": 50_000}


def copy_call(dst: bytearray, src: bytearray) -> None:
    """The raw copy behind one Python call: the ceiling of any Python-level memcpy model."""
    dst[:] = src


def _address(buf: bytearray) -> int:
    return ctypes.addressof(ctypes.c_char.from_buffer(buf))


def raw_buffers() -> tuple[bytearray, bytearray]:
    """(src holding PATTERN_A, zeroed dst), placed so that the copy does not 4K-alias."""
    src = bytearray(PATTERN_A)
    tried = []
    for _ in range(64):
        dst = bytearray(PAGE)
        if 1024 <= (_address(dst) - _address(src)) % PAGE <= 3072:
            return src, dst
        tried.append(dst)  # keep it allocated so the next try lands elsewhere
    return src, bytearray(PAGE)


def _machine() -> tuple[highmem.Machine, dict[str, Any]]:
    m = highmem.boot(cpus=2, memory="2G")
    raw_src, raw_dst = raw_buffers()
    g: dict[str, Any] = {
        "m": m,
        "KM_USER0": m.km_type.KM_USER0,
        "KM_USER1": m.km_type.KM_USER1,
        "raw_src": raw_src,
        "raw_dst": raw_dst,
        "copy_call": copy_call,
    }
    return m, g


def _fill(m: highmem.Machine, page: highmem.Page, data: bytes) -> None:
    """Write ``data`` into ``page`` through a mapping on the current CPU."""
    t = m.km_type.KM_USER0
    v = m.kmap_atomic(page, t)
    m.store(v, data)
    m.kunmap_atomic(v, t)


def measure_copy(number: dict[str, int] = NUMBER) -> dict[str, float]:
    """ns per 4 KiB copy for ``raw``, ``call``, ``steady`` and ``sequence``; asserts the bytes arrived."""
    m, g = _machine()
    src_a, dst_a = m.alloc_highpage(), m.alloc_highpage()
    src_b, dst_b = m.alloc_highpage(), m.alloc_highpage()
    with m.process(cpu=1):
        _fill(m, src_a, PATTERN_A)
        _fill(m, src_b, PATTERN_B)
        # (a) mappings established once, before the loop.
        sv = m.kmap_atomic(src_a, g["KM_USER0"])
        dv = m.kmap_atomic(dst_a, g["KM_USER1"])
        ga = dict(g, sv=sv, dv=dv)
        res = compare({"raw": RAW_STMT, "call": CALL_STMT, "steady": STEADY_STMT}, number, globals=ga)
        m.kunmap_atomic(dv, g["KM_USER1"])
        m.kunmap_atomic(sv, g["KM_USER0"])
        # (b) the whole sequence per iteration (the slots are remapped to the second pair of pages).
        gb = dict(g, src=src_b, dst=dst_b)
        res.update(compare({"sequence": SEQUENCE_STMT}, number, globals=gb))
    assert g["raw_dst"] == PATTERN_A
    assert m.page_bytes(dst_a) == PATTERN_A, "steady-state copy did not reach the destination frame"
    assert m.page_bytes(dst_b) == PATTERN_B, "copy_highpage sequence did not reach the destination frame"
    assert m.page_bytes(src_a) == PATTERN_A and m.page_bytes(src_b) == PATTERN_B
    return res


def run(number: dict[str, int] = NUMBER) -> list[Row]:
    res = measure_copy(number)
    raw = res["raw"]
    rows = []
    for key, label in (("steady", "4 KiB copy, mappings established (memcpy only)"),
                       ("sequence", "4 KiB copy_highpage sequence (2x kmap, memcpy, 2x kunmap)")):
        speed = raw / res[key]
        rows.append(Row(label, fmt_ns(res[key]), fmt_ns(raw) + " raw copy", f"{speed:.1%} of raw",
                        f">= {TARGET_SPEED:.0%}", speed >= TARGET_SPEED))
    call = res["call"]
    rows.append(Row("4 KiB copy ceiling: one Python call doing the raw copy", fmt_ns(call), fmt_ns(raw) + " raw copy",
                    f"{raw / call:.1%} of raw", "(info)"))
    return rows


if __name__ == "__main__":
    ratio_table(run(), "4 KiB high page copy vs raw bytearray copy (process context, CPU 1)")
