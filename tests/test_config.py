"""Configuration checking: every bad setting is one HighmemError sentence, from make_config and boot."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import highmem
from highmem.errors import HighmemError
from highmem.kernel.config import parse_size
from highmem.profiles.linux_2_4 import OPTIONS as KCONFIG_OPTIONS

KNOWN = ", ".join(KCONFIG_OPTIONS)

BAD = [
    ("unknown-profile", ("linux-3.0",), {},
     "profile 'linux-3.0' does not exist: available profiles are linux-2.4, linux-2.6, linux-2.6.37, linux-5.11"),
    ("unknown-option", (), {"config": {"FOO": True}},
     f"config option 'FOO' is not modelled for profile linux-2.4: its options are {KNOWN}"),
    ("unknown-option-list", (), {"config": ["CONFIG_BAR=y"]},
     f"config option 'BAR' is not modelled for profile linux-2.4: its options are {KNOWN}"),
    ("bad-value", (), {"config": {"DEBUG_HIGHMEM": "maybe"}},
     "config value DEBUG_HIGHMEM=maybe is not y or n: Kconfig booleans here are y or n"),
    ("bad-value-list", (), {"config": ["DEBUG_HIGHMEM=maybe"]},
     "config value DEBUG_HIGHMEM=maybe is not y or n: Kconfig booleans here are y or n"),
    ("no-equals", (), {"config": ["DEBUG_HIGHMEM"]},
     "config setting 'DEBUG_HIGHMEM' has no '=': write NAME=y or NAME=n"),
    ("cpus-0", (), {"cpus": 0}, "online CPU count 0 is invalid: at least one CPU must be online"),
    ("cpus-negative", (), {"cpus": -2}, "online CPU count -2 is invalid: at least one CPU must be online"),
    ("cpus-above-nr", (), {"cpus": 3, "nr_cpus": 2},
     "3 online CPUs exceed NR_CPUS=2: a kernel runs at most NR_CPUS CPUs"),
    ("cpus-above-32", (), {"cpus": 33},
     "33 online CPUs exceed NR_CPUS=32: a kernel runs at most NR_CPUS CPUs"),
    ("up-two-cpus", (), {"cpus": 2, "config": {"SMP": False}},
     "2 online CPUs exceed NR_CPUS=1: a kernel runs at most NR_CPUS CPUs"),
    ("nr-cpus-33", (), {"nr_cpus": 33}, "NR_CPUS=33 is above 32: 2.4's i386 CPU masks are one 32-bit word"),
    ("nr-cpus-0", (), {"nr_cpus": 0}, "NR_CPUS=0 is invalid: it must be a whole number of at least 1"),
    ("nr-cpus-without-smp", (), {"nr_cpus": 4, "config": {"SMP": False}},
     "NR_CPUS=4 needs SMP=y: a uniprocessor kernel has NR_CPUS 1"),
    ("smp-without-local-apic", (), {"config": {"X86_LOCAL_APIC": False}},
     "config X86_LOCAL_APIC=n conflicts with SMP=y: an SMP kernel always has it; set SMP=n too"),
    ("smp-without-io-apic", (), {"config": ["X86_IO_APIC=n"]},
     "config X86_IO_APIC=n conflicts with SMP=y: an SMP kernel always has it; set SMP=n too"),
    ("pae-without-highmem", (), {"config": {"X86_PAE": True, "HIGHMEM": False}},
     "config X86_PAE=y needs HIGHMEM=y: PAE is CONFIG_HIGHMEM64G, a highmem option"),
    ("pae-flag-contradiction", (), {"pae": True, "config": {"X86_PAE": False}},
     "--pae contradicts X86_PAE=n: drop one of them"),
    ("clustered-without-io-apic", (), {"config": {"SMP": False, "X86_CLUSTERED_APIC": True}},
     "config X86_CLUSTERED_APIC=y needs X86_IO_APIC=y: it only widens the IO-APIC range"),
    ("memory-8m", (), {"memory": "8M"},
     "memory size 8 MiB is below the minimum of 16 MiB: the model needs ZONE_DMA whole"),
    ("memory-5g", (), {"memory": "5G"},
     "memory size 5 GiB is above the architecture's limit: non-PAE i386 addresses 4 GiB; add --pae for up to 64 GiB"),
    ("memory-65g-pae", (), {"memory": "65G", "pae": True},
     "memory size 65 GiB is above the architecture's limit: PAE (X86_PAE=y) addresses 64 GiB"),
    ("memory-text", (), {"memory": "lots"},
     "memory size 'lots' is not a size: write a number with an optional unit, e.g. 512M or 2G"),
    ("memory-negative", (), {"memory": "-1G"},
     "memory size '-1G' is not a size: write a number with an optional unit, e.g. 512M or 2G"),
    ("memory-unit", (), {"memory": "2X"},
     "memory size '2X' is not a size: write a number with an optional unit, e.g. 512M or 2G"),
    ("km-types", (), {"km_types": "2.6.32"}, "km type list '2.6.32' does not exist: choose 2.4.22 or book"),
]


@pytest.mark.parametrize(("args", "kwargs", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_config_bad_input_raises_one_sentence(args: tuple, kwargs: dict, message: str) -> None:
    """make_config and boot reject each bad setting with the same one-line HighmemError."""
    for fn in (highmem.make_config, highmem.boot):
        with pytest.raises(HighmemError) as exc:
            fn(*args, **kwargs)
        assert str(exc.value) == message
        assert "\n" not in str(exc.value)


def test_config_defaults() -> None:
    """The linux-2.4 defaults: SMP with both APICs, NR_CPUS 32, 2 CPUs, 2 GiB, 2.4.22 types, no debug, no PAE."""
    c = highmem.make_config()
    assert dict(c.options) == {
        "SMP": True, "X86_LOCAL_APIC": True, "X86_IO_APIC": True, "X86_CLUSTERED_APIC": False,
        "X86_VISWS_APIC": False, "X86_F00F_WORKS_OK": True, "X86_SUMMIT": False, "HIGHMEM": True,
        "ACPI_BOOT": False, "DEBUG_HIGHMEM": False, "X86_PAE": False, "X86_INVLPG": True,
    }
    assert (c.profile, c.NR_CPUS, c.cpus, c.memory, c.km_types) == ("linux-2.4", 32, 2, 2 << 30, "2.4.22")
    assert c.MAX_IO_APICS == 8


def test_config_up_defaults() -> None:
    """SMP=n: NR_CPUS 1, one online CPU, no local or IO APIC."""
    c = highmem.make_config(config={"SMP": False})
    assert (c.NR_CPUS, c.cpus, c["X86_LOCAL_APIC"], c["X86_IO_APIC"]) == (1, 1, False, False)


def test_config_up_apic_allowed() -> None:
    """A UP kernel may enable its local APIC (CONFIG_X86_UP_APIC), which adds FIX_APIC_BASE."""
    m = highmem.boot(config={"SMP": False, "X86_LOCAL_APIC": True})
    assert m.fixmap.index("FIX_APIC_BASE") == 0
    assert m.FIX_KMAP_BEGIN == 1


def test_config_assignment_forms_are_equivalent() -> None:
    """NAME=y strings, CONFIG_ prefixes, y/n strings in a mapping and booleans all mean the same."""
    forms = [["DEBUG_HIGHMEM=y", "ACPI_BOOT=y"], ["CONFIG_DEBUG_HIGHMEM=y", "CONFIG_ACPI_BOOT=Y"],
             {"DEBUG_HIGHMEM": True, "ACPI_BOOT": True}, {"DEBUG_HIGHMEM": "y", "ACPI_BOOT": "y"}]
    for form in forms:
        c = highmem.make_config(config=form)
        assert c["DEBUG_HIGHMEM"] and c["ACPI_BOOT"]


def test_config_pae_flag_sets_option() -> None:
    """pae=True is CONFIG_X86_PAE=y and allows up to 64 GiB."""
    c = highmem.make_config(pae=True, memory="64G")
    assert c["X86_PAE"] and c.memory == 64 << 30


@pytest.mark.parametrize(("text", "size"), [("16M", 16 << 20), ("512M", 512 << 20), ("1536MiB", 1536 << 20),
                                            ("2g", 2 << 30), ("2GB", 2 << 30), ("4G", 4 << 30),
                                            (" 3G ", 3 << 30), (str(1 << 31), 1 << 31), (1 << 31, 1 << 31)])
def test_config_memory_sizes_accepted(text: object, size: int) -> None:
    """Sizes with and without units parse to bytes, up to the 4 GiB non-PAE limit."""
    assert highmem.make_config(memory=text).memory == size


@settings(max_examples=60, deadline=None)
@given(n=st.integers(min_value=16, max_value=4096), unit=st.sampled_from(["M", "MiB", "mb", "m"]))
def test_config_parse_size_megabytes(n: int, unit: str) -> None:
    """Any whole number of MiB with any spelling of the unit is n << 20 bytes."""
    assert parse_size(f"{n}{unit}") == n << 20
