"""The `highmem layout` command: text and JSON output, options, and bad input (exit 2, one line)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from highmem.cli import main

FIXADDR_TOP = 0xFFFFE000
KM_2_4_22 = ["KM_BOUNCE_READ", "KM_SKB_SUNRPC_DATA", "KM_SKB_DATA_SOFTIRQ", "KM_USER0", "KM_USER1",
             "KM_BH_IRQ", "KM_SOFTIRQ0", "KM_SOFTIRQ1"]

BAD_ARGS = [
    ("unknown-profile", ["--profile", "linux-3.0"],
     "highmem: profile 'linux-3.0' does not exist: available profiles are linux-2.4, linux-2.6, linux-2.6.37, "
     "linux-5.11"),
    ("unknown-config", ["--config", "FOO=y"], "highmem: config option 'FOO' is not modelled"),
    ("bad-value", ["--config", "DEBUG_HIGHMEM=maybe"],
     "highmem: config value DEBUG_HIGHMEM=maybe is not y or n: Kconfig booleans here are y or n"),
    ("cpus-0", ["--cpus", "0"], "highmem: online CPU count 0 is invalid: at least one CPU must be online"),
    ("cpus-above-nr", ["--cpus", "5", "--nr-cpus", "4"],
     "highmem: 5 online CPUs exceed NR_CPUS=4: a kernel runs at most NR_CPUS CPUs"),
    ("nr-cpus-33", ["--nr-cpus", "33"], "highmem: NR_CPUS=33 is above 32: 2.4's i386 CPU masks are one 32-bit word"),
    ("nr-cpus-without-smp", ["--config", "SMP=n", "--nr-cpus", "4"],
     "highmem: NR_CPUS=4 needs SMP=y: a uniprocessor kernel has NR_CPUS 1"),
    ("local-apic-off", ["--config", "X86_LOCAL_APIC=n"],
     "highmem: config X86_LOCAL_APIC=n conflicts with SMP=y: an SMP kernel always has it; set SMP=n too"),
    ("memory-8m", ["--memory", "8M"],
     "highmem: memory size 8 MiB is below the minimum of 16 MiB: the model needs ZONE_DMA whole"),
    ("memory-5g", ["--memory", "5G"], "highmem: memory size 5 GiB is above the architecture's limit"),
    ("memory-65g-pae", ["--pae", "--memory", "65G"],
     "highmem: memory size 65 GiB is above the architecture's limit: PAE (X86_PAE=y) addresses 64 GiB"),
    ("memory-text", ["--memory", "lots"], "highmem: memory size 'lots' is not a size"),
    ("km-types", ["--km-types", "2.6"], "highmem: km type list '2.6' does not exist: choose 2.4.22 or book"),
    ("cpus-not-int", ["--cpus", "two"], "highmem: argument --cpus: invalid int value: 'two'"),
    ("unknown-option", ["--frobnicate"], "highmem: unrecognized arguments: --frobnicate"),
]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse errors exit from inside parse_args
        rc = int(e.code)  # type: ignore[arg-type]
    out, err = capsys.readouterr()
    return rc, out, err


def _layout_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    rc, out, err = _run(["layout", "--json", *argv], capsys)
    assert (rc, err) == (0, "")
    return json.loads(out)


@pytest.mark.parametrize(("argv", "start"), [b[1:] for b in BAD_ARGS], ids=[b[0] for b in BAD_ARGS])
def test_cli_layout_bad_input_exits_2_with_one_line(capsys: pytest.CaptureFixture[str], argv: list[str],
                                                    start: str) -> None:
    """Bad input: exit status 2, nothing on stdout, exactly one 'highmem: ' line on stderr, no traceback."""
    rc, out, err = _run(["layout", *argv], capsys)
    assert rc == 2
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1
    assert err.startswith(start)
    assert "Traceback" not in err


@pytest.mark.parametrize(("argv", "start"), [
    (["--cpus", "0"], "highmem: online CPU count 0 is invalid"),
    (["--memory", "5G"], "highmem: memory size 5 GiB is above the architecture's limit"),
    (["--cpus", "x"], "highmem: argument --cpus: invalid int value: 'x'"),
], ids=["cpus-0", "memory-5g", "cpus-not-int"])
def test_cli_layout_subprocess_bad_input(argv: list[str], start: str) -> None:
    """`python -m highmem layout` with bad input exits 2 with one stderr line and no traceback."""
    p = subprocess.run([sys.executable, "-m", "highmem", "layout", *argv], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2
    assert p.stdout == ""
    assert p.stderr.startswith(start) and p.stderr.count("\n") == 1
    assert "Traceback" not in p.stderr


def test_cli_no_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """`highmem` without a command prints help and exits 2."""
    rc, out, _ = _run([], capsys)
    assert rc == 2
    assert "layout" in out


def test_cli_layout_json_config_a(capsys: pytest.CaptureFixture[str]) -> None:
    """--nr-cpus 4 --cpus 4 --json matches spec 1.4 (a), integers as JSON numbers."""
    d = _layout_json(["--nr-cpus", "4", "--cpus", "4"], capsys)
    want = {"KM_TYPE_NR": 8, "NR_CPUS": 4, "FIXADDR_TOP": 0xFFFFE000, "FIXADDR_START": 0xFFFD5000,
            "FIX_KMAP_BEGIN": 9, "FIX_KMAP_END": 40, "PKMAP_BASE": 0xFE000000, "LAST_PKMAP": 1024,
            "PAGE_OFFSET": 0xC0000000}
    assert {k: d[k] for k in want} == want
    assert all(type(d[k]) is int for k in want)
    assert d["km_types"] == KM_2_4_22
    slots = d["kmap_slots"]
    assert [(s["cpu"], s["type"], s["idx"], s["vaddr"]) for s in slots] == [
        (c, name, t + 8 * c, FIXADDR_TOP - (9 + t + 8 * c) * 0x1000)
        for c in range(4) for t, name in enumerate(KM_2_4_22)]
    cpu3_user0 = next(s for s in slots if (s["cpu"], s["type"]) == (3, "KM_USER0"))
    assert (cpu3_user0["idx"], cpu3_user0["vaddr"]) == (27, 0xFFFDA000)
    assert all(type(s[k]) is int for s in slots for k in ("cpu", "idx", "vaddr"))
    assert slots[0]["vaddr"] == 0xFFFF5000 and slots[-1]["vaddr"] == 0xFFFD6000


def test_cli_layout_json_slots_only_for_online_cpus(capsys: pytest.CaptureFixture[str]) -> None:
    """The slot table has one object per online CPU and type (default: 2 CPUs x 8 types)."""
    d = _layout_json([], capsys)
    assert d["NR_CPUS"] == 32
    assert [(s["cpu"], s["type"]) for s in d["kmap_slots"]] == [(c, n) for c in range(2) for n in KM_2_4_22]
    assert d["FIXADDR_START"] == 0xFFEF5000 and d["FIX_KMAP_END"] == 264


def test_cli_layout_json_book_pae(capsys: pytest.CaptureFixture[str]) -> None:
    """--km-types book --pae: KM_TYPE_NR 6, LAST_PKMAP 512, cpu 3 KM_USER0 at 0xfffe0000 (spec 1.4 (b))."""
    d = _layout_json(["--profile", "linux-2.4", "--km-types", "book", "--pae", "--nr-cpus", "4", "--cpus", "4",
                      "--memory", "2G"], capsys)
    assert (d["KM_TYPE_NR"], d["LAST_PKMAP"], d["FIX_KMAP_END"], d["FIXADDR_START"]) == (6, 512, 32, 0xFFFDD000)
    assert d["km_types"] == KM_2_4_22[:6]
    assert len(d["kmap_slots"]) == 24
    s = next(s for s in d["kmap_slots"] if (s["cpu"], s["type"]) == (3, "KM_USER0"))
    assert (s["idx"], s["vaddr"]) == (21, 0xFFFE0000)
    assert d["config"]["CONFIG_X86_PAE"] is True


def test_cli_layout_json_repeated_config(capsys: pytest.CaptureFixture[str]) -> None:
    """--config is repeatable: DEBUG_HIGHMEM=y and ACPI_BOOT=y both apply (ACPI adds 4 fixmap pages)."""
    d = _layout_json(["--config", "DEBUG_HIGHMEM=y", "--config", "ACPI_BOOT=y"], capsys)
    assert d["config"]["CONFIG_DEBUG_HIGHMEM"] is True and d["config"]["CONFIG_ACPI_BOOT"] is True
    assert d["FIXADDR_START"] == 0xFFFFE000 - 269 * 0x1000


def test_cli_layout_json_memory_option(capsys: pytest.CaptureFixture[str]) -> None:
    """--memory 512M: no highmem, so high_memory is 0xe0000000 and max_pfn == max_low_pfn."""
    d = _layout_json(["--memory", "512M"], capsys)
    assert d["high_memory"] == 0xE0000000
    assert d["max_pfn"] == d["max_low_pfn"] == 0x20000
    assert "512MB LOWMEM available." in d["boot_log"]


def test_cli_layout_json_up(capsys: pytest.CaptureFixture[str]) -> None:
    """--config SMP=n: one CPU, slots from fixmap 0 at 0xffffe000 down to 0xffff7000."""
    d = _layout_json(["--config", "SMP=n"], capsys)
    assert (d["NR_CPUS"], d["FIX_KMAP_BEGIN"], d["FIXADDR_START"]) == (1, 0, 0xFFFF6000)
    assert [s["vaddr"] for s in d["kmap_slots"]] == [0xFFFFE000 - t * 0x1000 for t in range(8)]


def test_cli_layout_text_default(capsys: pytest.CaptureFixture[str]) -> None:
    """The text layout names FIX_KMAP_BEGIN and shows CPU 1's KM_USER0 slot at 0xfffea000."""
    rc, out, err = _run(["layout"], capsys)
    assert (rc, err) == (0, "")
    assert "FIX_KMAP_BEGIN" in out
    assert "0xfffea000" in out
    assert "1152MB HIGHMEM available." in out
    assert "FIXADDR_START 0xffef5000" in out


def test_cli_layout_text_many_cpus(capsys: pytest.CaptureFixture[str]) -> None:
    """With more than 4 CPUs the slot table lists every CPU, including cpu 7 KM_SOFTIRQ1 (fixmap 72)."""
    rc, out, _ = _run(["layout", "--cpus", "8"], capsys)
    assert rc == 0
    assert "0xfffea000" in out
    assert f"{FIXADDR_TOP - 72 * 0x1000:#010x}" in out


def test_cli_layout_subprocess_json() -> None:
    """The installed module entry point prints the same JSON (spec (a) slot of cpu 3 KM_USER0)."""
    p = subprocess.run([sys.executable, "-m", "highmem", "layout", "--json", "--nr-cpus", "4", "--cpus", "4"],
                       capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stderr) == (0, "")
    d = json.loads(p.stdout)
    assert any((s["cpu"], s["type"], s["vaddr"]) == (3, "KM_USER0", 0xFFFDA000) for s in d["kmap_slots"])
