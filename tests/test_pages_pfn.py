"""[pages] pfn and phys: a scenario page at a chosen frame, checked against memory and its zone."""

from __future__ import annotations

import pytest

from highmem.errors import HighmemError
from highmem.hw.physmem import Zone
from highmem.scenarios import load_toml_text
from highmem.sim.explore import run_once
from highmem.sim.strategy import DefaultStrategy

BODY = """
[[task]]
name = "t"
ops = [
  { op = "kmap_atomic", page = "A", type = "KM_USER0", as = "a" },
  { op = "load", addr = "a", size = 1, expect = "A" },
  { op = "kunmap_atomic", addr = "a", type = "KM_USER0" },
]
"""


def _scenario(machine: str, page: str) -> str:
    return f"[machine]\n{machine}\n\n[pages]\nA = {{ {page}, fill = \"A\" }}\n" + BODY


def _workload_error(text: str) -> str:
    sc = load_toml_text(text, "t.toml")
    with pytest.raises(HighmemError) as e:
        run_once(sc, sc.config(), DefaultStrategy())
    return str(e.value)


@pytest.mark.parametrize("page", ["pfn = 0xFFFFFF", 'phys = "68719472640"'])
def test_pages_pfn_top_frame_of_64g(page: str) -> None:
    """pfn = 0xFFFFFF (the last frame of a 64 GiB PAE machine) is used as given; phys names it by address."""
    sc = load_toml_text(_scenario('pae = true\nmemory = "64G"', page), "t.toml")
    res, _ = run_once(sc, sc.config(), DefaultStrategy())
    assert (res.status, res.findings, sc.pages[0].pfn, sc.pages[0].zone) == ("done", [], 0xFFFFFF, Zone.ZONE_HIGHMEM)


def test_pages_phys_with_unit() -> None:
    """phys = "63G" is frame 0xfc0000."""
    sc = load_toml_text(_scenario('pae = true\nmemory = "64G"', 'phys = "63G"'), "t.toml")
    assert sc.pages[0].pfn == 0xFC0000


def test_pages_pfn_outside_memory() -> None:
    """A frame past the machine's memory is one sentence at the page's line."""
    msg = _workload_error(_scenario('pae = true\nmemory = "8G"', "pfn = 0xFFFFFF"))
    assert msg == ("t.toml:6: page A at pfn 0xffffff: page frame 0xffffff is outside memory: this machine has "
                   "frames 0 to 0x1fffff")


def test_pages_pfn_in_the_wrong_zone() -> None:
    """A lowmem frame for a page declared high is one sentence naming both zones and the right span."""
    msg = _workload_error(_scenario('memory = "2G"', 'pfn = 0x2000, zone = "highmem"'))
    assert msg == ("t.toml:5: page A at pfn 0x2000 is in ZONE_NORMAL, not ZONE_HIGHMEM: ZONE_HIGHMEM has frames "
                   "0x38000 to 0x7ffff")


def test_pages_pfn_without_zone_takes_the_frames_zone() -> None:
    """With a pfn and no zone, the page is in the frame's zone (here ZONE_NORMAL)."""
    sc = load_toml_text(_scenario('memory = "2G"', "pfn = 0x2000"), "t.toml")
    res, _ = run_once(sc, sc.config(), DefaultStrategy())
    assert (res.status, res.findings) == ("done", [])


def test_pages_pfn_reserved_frame() -> None:
    """A frame of the kernel image is refused."""
    msg = _workload_error(_scenario('memory = "2G"', "pfn = 0x100"))
    assert msg.startswith("t.toml:5: page A at pfn 0x100: page frame 0x100 is reserved at boot")


def test_pages_pfn_twice() -> None:
    """Two pages at one frame: the second is refused."""
    text = _scenario('memory = "2G"', "pfn = 0x40000").replace('fill = "A" }', 'fill = "A" }\nB = { pfn = 0x40000 }')
    msg = _workload_error(text)
    assert msg == "t.toml:6: page B at pfn 0x40000: page frame 0x40000 is already allocated"


@pytest.mark.parametrize(("page", "message"), [
    ("pfn = -1", "t.toml:5: page A pfn -1 is not a frame number: write 0 to 0xffffff (64 GiB)"),
    ('phys = "1K"', "t.toml:5: page A phys '1K' is not a page-aligned address below 64 GiB"),
    ('pfn = 1, phys = "4K"', "t.toml:5: page A has both pfn and phys: give one"),
])
def test_pages_pfn_bad_values(page: str, message: str) -> None:
    """Bad pfn or phys values are one sentence at load time."""
    with pytest.raises(HighmemError) as e:
        load_toml_text(_scenario('memory = "2G"', page), "t.toml")
    assert str(e.value) == message
