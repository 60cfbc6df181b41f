"""Boot cost: wall time (in-process, best of 5) and peak RSS (fresh subprocess).

Subject: ``highmem.boot(pae=True, memory="64G", cpus=4)`` (targets: <= 1 s,
<= 150 MB peak RSS, 1 MB = 10**6 bytes).  For comparison, a 4 GiB non-PAE
boot with 4 CPUs.  Peak RSS is ``ru_maxrss`` (KiB on Linux) of a
``python -c`` that imports highmem and boots; the baseline is a
``python -c`` that only imports highmem.

The ``python -c`` is started through ``/bin/sh -c '...; exit $?'`` so that
the shell *forks* it.  Linux carries ``ru_maxrss`` over fork+exec: a child
forked (or vforked) straight from this process inherits this process's RSS
as its starting high-water mark (a 300 MB parent made an import-only child
report 300 MB).  The shell in between is small, so the child's figure is its
own; the child also prints ``VmHWM`` from /proc/self/status, whose value must
agree.
"""

from __future__ import annotations

import subprocess
import sys
import time

import highmem
from floor import Row, fmt_ns, ratio_table

__all__ = ["run", "TARGET_SECONDS", "TARGET_RSS_BYTES"]

TARGET_SECONDS = 1.0
TARGET_RSS_BYTES = 150 * 10**6
REPEAT = 5

#: (label, keyword arguments of highmem.boot, gated by the targets)
BOOTS: tuple[tuple[str, dict[str, object], bool], ...] = (
    ("64 GiB PAE, 4 CPUs", {"pae": True, "memory": "64G", "cpus": 4}, True),
    ("4 GiB non-PAE, 4 CPUs", {"memory": "4G", "cpus": 4}, False),
)

_RSS_SCRIPT = """\
import resource, highmem
{boot}
hwm = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")]
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, *hwm)
"""


def boot_seconds(kwargs: dict[str, object], repeat: int = REPEAT) -> float:
    """Best wall time of ``repeat`` in-process boots."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        m = highmem.boot(**kwargs)
        best = min(best, time.perf_counter() - t0)
        del m
    return best


def peak_rss_kib(kwargs: dict[str, object] | None) -> int:
    """``ru_maxrss`` (KiB) of a fresh interpreter that imports highmem and, unless None, boots with ``kwargs``."""
    boot = f"m = highmem.boot(**{kwargs!r})" if kwargs is not None else ""
    argv = ["/bin/sh", "-c", '"$0" -c "$1"; exit $?', sys.executable, _RSS_SCRIPT.format(boot=boot)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
    maxrss, *hwm = (int(x) for x in out.stdout.split())
    if hwm:  # Linux: the mm's own high-water mark must match (else ru_maxrss was inherited)
        assert abs(maxrss - hwm[0]) <= max(1024, hwm[0] // 10), (maxrss, hwm[0])
    return maxrss


def _mb(kib: int) -> str:
    return f"{kib * 1024 / 1e6:.1f} MB"


def run() -> list[Row]:
    rows = []
    times = {label: boot_seconds(kw) for label, kw, _ in BOOTS}
    ref_label = BOOTS[-1][0]
    base_kib = peak_rss_kib(None)
    for label, _kw, gated in BOOTS:
        t = times[label]
        if gated:
            rows.append(Row(f"boot {label}: wall time (best of {REPEAT})", fmt_ns(t * 1e9),
                            fmt_ns(times[ref_label] * 1e9) + " 4G boot", f"{t / times[ref_label]:.2f}x",
                            f"<= {TARGET_SECONDS:g} s", t <= TARGET_SECONDS))
        else:
            rows.append(Row(f"boot {label}: wall time (best of {REPEAT})", fmt_ns(t * 1e9),
                            target="(info)"))
    for label, kw, gated in BOOTS:
        kib = peak_rss_kib(kw)
        rows.append(Row(f"boot {label}: peak RSS (subprocess)", _mb(kib),
                        _mb(base_kib) + " import only", f"{kib / base_kib:.2f}x (+{_mb(kib - base_kib)})",
                        f"<= {TARGET_RSS_BYTES / 1e6:g} MB" if gated else "(info)",
                        kib * 1024 <= TARGET_RSS_BYTES if gated else None))
    return rows


if __name__ == "__main__":
    ratio_table(run(), "boot cost")
