"""`highmem layout --svg`: the top of the address space, to scale where it fits, with marked breaks."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import highmem
from highmem.cli import main
from highmem.report import svg as svgmod
from highmem.report.layout import layout_dict
from highmem.report.svg import PX_PAGE, layout_svg

NS = "{http://www.w3.org/2000/svg}"


def _texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{NS}text")]


def _region_rects(root: ET.Element) -> dict[str, ET.Element]:
    """Region class (e.g. region-lowmem) -> its outer rect, in drawing order."""
    out: dict[str, ET.Element] = {}
    for g in root.iter(f"{NS}g"):
        cls = g.get("class", "")
        if cls.startswith("region "):
            title = g.find(f"{NS}title")
            assert title is not None and title.text
            out[title.text.split(":")[0]] = g
    return out


def test_default_machine_svg() -> None:
    m = highmem.boot("linux-2.4", cpus=2, memory="2G")
    doc = layout_svg(m)
    root = ET.fromstring(doc)
    assert root.tag == f"{NS}svg"
    texts = _texts(root)
    joined = "\n".join(texts)
    # Every region of the layout, top-down, with its boundary addresses.
    for name in ("unused", "FIX_APIC_BASE", "pkmap", "vmalloc", "lowmem", "FIX_BTMAP_END..FIX_BTMAP_BEGIN"):
        assert any(t.startswith(name) for t in texts), name
    for addr in ("0xffffffff", "0xfffff000", "0xffffe000", "0xfe000000", "0xf8800000", "0xf8000000", "0xc0000000"):
        assert addr in texts, addr
    # Each online CPU's kmap slots as labelled cells (idx, fixmap), with each slot's address.
    slots = layout_dict(m)["kmap_slots"]
    assert len(slots) == 16
    cells = [t for t in texts if re.fullmatch(r"idx \d+ · fixmap \d+", t)]
    assert cells == [f"idx {s['idx']} · fixmap {s['fixmap']}" for s in slots]
    assert texts.count("KM_USER0") == 2 and texts.count("KM_SOFTIRQ1") == 2
    assert "CPU 0 kmap slots (32 KiB, to scale)" in joined and "CPU 1 kmap slots (32 KiB, to scale)" in joined
    # The offline CPUs' slots, and the big regions, are shortened with a zig-zag break; small ones are to scale.
    assert "kmap slots of CPUs 2..31 (not online) (960 KiB, shortened ≈)" in joined
    assert "lowmem (896 MiB, shortened ≈)" in joined
    assert "unused (4 KiB, to scale)" in joined
    breaks = [p for p in root.iter(f"{NS}polyline") if p.get("class") == "break"]
    shortened = joined.count("shortened ≈")
    assert shortened >= 5 and len(breaks) == 2 * shortened
    # To scale: one page is PX_PAGE pixels, and every CPU's 8 cells are 8 pages tall.
    regions = _region_rects(root)
    top_page = regions["unused"].find(f"{NS}rect")
    assert top_page is not None and float(top_page.get("height", 0)) == PX_PAGE
    cpu0 = regions["CPU 0 kmap slots"].find(f"{NS}rect")
    assert cpu0 is not None and float(cpu0.get("height", 0)) == 8 * PX_PAGE
    lowmem = regions["lowmem"].find(f"{NS}rect")
    assert lowmem is not None and float(lowmem.get("height", 0)) < 896 * 256 * PX_PAGE


def test_vertical_order_is_top_down() -> None:
    m = highmem.boot("linux-2.4", cpus=2, memory="2G")
    root = ET.fromstring(layout_svg(m))
    ys = []
    for g in root.iter(f"{NS}g"):
        if g.get("class", "").startswith("region "):
            rect = g.find(f"{NS}rect")
            title = g.find(f"{NS}title")
            assert rect is not None and title is not None and title.text
            start = int(re.search(r": (0x[0-9a-f]+)\.\.", title.text).group(1), 16)  # type: ignore[union-attr]
            ys.append((float(rect.get("y", 0)), float(rect.get("height", 0)), start))
    for (y0, h0, a0), (y1, _h1, a1) in zip(ys, ys[1:], strict=False):
        assert y1 == pytest.approx(y0 + h0) and a1 < a0


@pytest.mark.parametrize("kw", [
    {"config": {"SMP": False}},
    {"config": {"HIGHMEM": False}, "memory": "512M"},
    {"pae": True, "memory": "8G", "cpus": 8, "nr_cpus": 8},
    {"km_types": "book"},
])
def test_other_machines(kw: dict) -> None:
    m = highmem.boot("linux-2.4", **kw)
    root = ET.fromstring(layout_svg(m))
    texts = _texts(root)
    n_slots = len(layout_dict(m)["kmap_slots"])
    cells = [t for t in texts if re.fullmatch(r"idx \d+ · fixmap \d+", t)]
    assert len(cells) == min(n_slots, 4 * m.KM_TYPE_NR)
    if not m.HIGHMEM:
        assert not any(t.startswith("pkmap") for t in texts)
        assert any("overlap the region above" in t for t in texts)  # 2.4: VMALLOC_END over the boot fixmaps
    if kw.get("cpus") == 8:
        assert any(t.startswith("kmap slots of CPUs 4..7 (online)") for t in texts)


def test_text_is_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    m = highmem.boot("linux-2.4", cpus=1, memory="1G")
    real = svgmod.regions

    def evil(machine: highmem.Machine) -> list[dict]:
        out = real(machine)
        out[-1] = dict(out[-1], name="<lowmem & co>", note="<script>alert(1)</script>")
        return out

    monkeypatch.setattr(svgmod, "regions", evil)
    doc = layout_svg(m)
    assert "<script>" not in doc and "&lt;script&gt;alert(1)&lt;/script&gt;" in doc
    assert "&lt;lowmem &amp; co&gt;" in doc
    ET.fromstring(doc)


def test_cli_layout_svg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "layout.svg"
    assert main(["layout", "--svg", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cpus"] == 2  # --json still prints
    doc = out.read_text(encoding="utf-8")
    assert doc.startswith("<svg") and ET.fromstring(doc).tag == f"{NS}svg"
    assert re.findall(r"https?://[^\s\"'<>]*", doc) == ["http://www.w3.org/2000/svg"]
    bad = tmp_path / "missing" / "x.svg"
    assert main(["layout", "--svg", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"highmem: SVG file {bad} cannot be written: ") and err.count("\n") == 1
    assert main(["layout", "--svg", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"highmem: SVG file {tmp_path} is a directory: name a file to write\n"


@pytest.mark.parametrize("profile", ["linux-2.4", "linux-2.6", "linux-2.6.37", "linux-5.11"])
def test_layout_regions_are_never_empty_or_beyond_4g(profile: str, capsys: pytest.CaptureFixture[str]) -> None:
    """No region starts at or above 4 GiB or is empty: 2.6+ has no page above FIXADDR_TOP to call unused."""
    m = highmem.boot(profile, cpus=2, memory="2G")
    regions = layout_dict(m)["regions"]
    for r in regions:
        assert 0 <= r["start"] < r["end"] <= 1 << 32, r
    names = [r["name"] for r in regions]
    assert ("unused" in names) == (m.FIXADDR_TOP + 4096 < 1 << 32)
    assert ("unused" in names) == (profile == "linux-2.4")
    assert main(["layout", "--profile", profile]) == 0
    out = capsys.readouterr().out
    assert "0x100000000" not in out and " 0 kB" not in out
    # The top of the drawing is the first region's top: 0xffffffff, and nothing above it.
    root = ET.fromstring(layout_svg(m))
    addrs = [t for t in _texts(root) if re.fullmatch(r"0x[0-9a-f]{8,}", t)]
    assert addrs[0] == "0xffffffff" and all(int(a, 16) <= 0xFFFFFFFF for a in addrs)
