"""The HTML report and the layout SVG in a real browser: Debian's headless Chromium, driven by selenium
through Debian's chromedriver (no browser is downloaded).  One browser serves every test of the module.

Checked as a person sees it: the page loads without a console error, the wheel, the keys and the
buttons change the visible range, the player's slot table shows the PTE the trace's set_pte events
wrote at the steps it is moved to (with buttons, keys, the step box and a click on the timeline), no
text drawn on the timeline overlaps another or an arrow, the page has no horizontal overflow at
800 px or at phone width, and the layout SVG's labels do not overlap.

Locally the tests skip when Chromium, chromedriver or selenium is absent; in CI (CI=true) they fail
instead, since `.ci/run` installs chromium and chromium-driver.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from highmem.cli import main
from highmem.report.trace_io import read_trace

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars"]


def _need(what: str, why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is missing, but CI=true: {why}")
    pytest.skip(f"{what} is missing ({why}); in CI these tests must run")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole module, with a fresh profile directory."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _need("selenium", "pip install -e '.[test]'")
    exe = shutil.which("chromium") or "/usr/bin/chromium"
    drv = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not os.path.exists(exe) or not os.path.exists(drv):
        _need("chromium or chromedriver", ".ci/run installs them: apt-get install chromium chromium-driver")
    profile = tempfile.mkdtemp(prefix="highmem-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = exe
    for f in [*FLAGS, f"--user-data-dir={profile}"]:
        opts.add_argument(f)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(drv), options=opts)
    d.set_window_size(1400, 900)
    try:
        yield d
    finally:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], list[dict[str, Any]]]:
    """irq-uses-user-slot's report and, from the same run, its trace."""
    d = tmp_path_factory.mktemp("browser-report")
    assert main(["check", "irq-uses-user-slot", "--html", str(d), "--trace", str(d / "t.jsonl"), "-q"]) == 1
    header, records = read_trace(d / "t.jsonl")
    return d / "irq-uses-user-slot.html", header, records


def _open(browser: Any, path: Path, width: int = 1400, height: int = 900) -> None:
    browser.set_window_size(width, height)
    browser.get(path.resolve().as_uri())
    assert browser.execute_script("return document.body.getAttribute('data-ready')") == "yes"


def _console(browser: Any) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e.get("level") in ("SEVERE", "WARNING")]


def test_page_loads_without_errors(browser: Any, report: tuple[Path, dict[str, Any], list[dict[str, Any]]],
                                   tmp_path: Path) -> None:
    """The script runs to its end, nothing is logged, both lanes are laid out, the finding is on screen."""
    path, _h, _r = report
    _open(browser, path)
    assert browser.execute_script("return window.__hmErrors") == []
    assert _console(browser) == []
    rows = browser.execute_script("return window.__hm.rows()")
    assert [r[2] for r in rows if r[1] == "head"] == ["CPU 0", "CPU 1"]
    assert any(r[1] == "slot" and r[2] == "KM_USER0" and r[0] == 0 for r in rows)
    seen = browser.execute_script("""
        var b = document.querySelector('.finding').getBoundingClientRect();
        return b.height > 0 && b.top < window.innerHeight;""")
    assert seen
    # Few DOM nodes: the timeline is one canvas, the events list holds only the rows in view.
    assert browser.execute_script("return document.getElementsByTagName('*').length") < 1500
    shot = tmp_path / "shot.png"
    browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 40_000


def test_zoom_and_pan_change_the_visible_range(browser: Any,
                                               report: tuple[Path, dict[str, Any], list[dict[str, Any]]]) -> None:
    """Wheel zooms in around the pointer, + and the buttons zoom, Shift+→ pans, 0 and fit show the whole run."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    path, header, _r = report
    _open(browser, path)
    full = browser.execute_script("return window.__hm.view()")
    assert full[0] <= 0 and full[1] >= header["steps"]
    browser.execute_script("""
        var c = document.getElementById('timeline'), b = c.getBoundingClientRect();
        for (var i = 0; i < 3; i++) {
          c.dispatchEvent(new WheelEvent('wheel', {deltaY: -120, clientX: b.left + b.width * 0.6,
                                                   clientY: b.top + 60, bubbles: true, cancelable: true}));
        }""")
    z = browser.execute_script("return window.__hm.view()")
    assert z[1] - z[0] < 0.6 * (full[1] - full[0]) and z[0] > full[0]
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.SHIFT, Keys.ARROW_RIGHT)
    p = browser.execute_script("return window.__hm.view()")
    assert p[0] > z[0] and abs((p[1] - p[0]) - (z[1] - z[0])) < 1e-6
    body.send_keys("+")
    k = browser.execute_script("return window.__hm.view()")
    assert k[1] - k[0] < p[1] - p[0]
    label = browser.find_element(By.ID, "range").text
    assert label.startswith("steps ") and label.endswith(f"of {header['steps']}") and label != f"steps 0 to " \
        f"{header['steps']} of {header['steps']}"
    browser.find_element(By.ID, "zoom-fit").click()
    assert browser.execute_script("return window.__hm.view()") == full
    browser.find_element(By.ID, "zoom-in").click()
    b = browser.execute_script("return window.__hm.view()")
    assert b[1] - b[0] < full[1] - full[0]
    body.send_keys("0")
    assert browser.execute_script("return window.__hm.view()") == full


def _pte_at(records: list[dict[str, Any]], vaddr: int, step: int) -> int:
    """The PTE of ``vaddr`` after ``step``, from the trace's set_pte / pte_clear events alone."""
    pte = 0
    for r in records:
        if r["step"] > step:
            break
        if r.get("vaddr") == vaddr and r["kind"] == "set_pte":
            pte = r["new"]
        elif r.get("vaddr") == vaddr and r["kind"] == "pte_clear":
            pte = 0
    return pte


def _slot_row(browser: Any, cpu: int, idx: int) -> dict[str, str]:
    return dict(browser.execute_script(f"""
        var tr = document.querySelector('.p-cpu[data-cpu="{cpu}"] tr[data-idx="{idx}"]');
        if (!tr) {{ return {{}}; }}
        return {{pte: tr.querySelector('.pte').textContent,
                frame: tr.querySelector('.decoded').getAttribute('data-frame'),
                tlb: tr.querySelector('.tlb').textContent, holder: tr.querySelector('.holder').textContent,
                state: tr.querySelector('.state').textContent, step: document.body.getAttribute('data-step')}};"""))


def test_player_slot_table_shows_the_pte(browser: Any,
                                         report: tuple[Path, dict[str, Any], list[dict[str, Any]]]) -> None:
    """At the map, the clobber and the stale load, KM_USER0's row shows the PTE set_pte wrote, its TLB entry,
    its holder and the slot's state; reached with the step box, the → key and a click on the timeline."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    path, header, records = report
    _open(browser, path)
    mapped, clobbered, loaded = header["findings"][0]["steps"]
    mine, theirs = header["findings"][0]["pages"]
    vaddr = header["findings"][0]["slot"]["vaddr"]
    idx = header["findings"][0]["slot"]["idx"]
    # Step 0: the slot's PTE is empty; the row shows only when "every slot" is asked for.
    browser.find_element(By.ID, "p-all").click()
    row = _slot_row(browser, 0, idx)
    assert (row["pte"], row["tlb"], row["state"]) == (f"{_pte_at(records, vaddr, 0):#x}", "absent", "free")
    # The step box.
    box = browser.find_element(By.ID, "p-step")
    box.clear()
    box.send_keys(str(mapped), Keys.ENTER)
    row = _slot_row(browser, 0, idx)
    assert row["step"] == str(mapped) and row["pte"] == f"{_pte_at(records, vaddr, mapped):#x}"
    assert int(row["frame"], 16) == mine and row["state"] == "mapped" and "writer" in row["holder"]
    # The → key: to the next steps with records, up to the clobber.
    body = browser.find_element(By.TAG_NAME, "body")
    while int(browser.execute_script("return window.__hm.step()")) < clobbered:
        body.send_keys(Keys.ARROW_RIGHT)
    row = _slot_row(browser, 0, idx)
    assert row["step"] == str(clobbered) and row["pte"] == f"{_pte_at(records, vaddr, clobbered):#x}"
    assert int(row["frame"], 16) == theirs and row["state"] == "stale"
    assert "writer" in row["holder"] and "eth0#1" in row["holder"]
    # A click on the timeline at the load's step.
    browser.find_element(By.ID, "zoom-fit").click()
    x, y = browser.execute_script(f"""
        var c = document.getElementById('timeline');
        c.scrollIntoView({{block: 'center'}});
        var b = c.getBoundingClientRect(), v = window.__hm.view(), rows = window.__hm.rows(), y = 0;
        rows.forEach(function (r) {{ if (r[0] === 1 && r[1] === 'head') {{ y = r[3] + 5; }} }});
        var gut = b.width < 560 ? 92 : 150;
        return [b.left + gut + ({loaded} - v[0]) / (v[1] - v[0]) * (b.width - gut - 10), b.top + y];""")
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    act = ActionBuilder(browser)
    act.pointer_action.move_to_location(int(round(x)), int(round(y))).click()
    act.perform()
    row = _slot_row(browser, 0, idx)
    assert row["step"] == str(loaded) and row["pte"] == f"{_pte_at(records, vaddr, loaded):#x}"
    assert row["tlb"] == f"current → {theirs:#x}" and row["state"] == "stale"
    events = browser.execute_script("return Array.from(document.querySelectorAll('#p-events .p-ev'))"
                                    ".map(function (e) { return e.textContent; })")
    assert any("load: 9 bytes at 0xffff2000" in e for e in events)
    # ← goes back to the clobber's step or before; the back button too.
    body.send_keys(Keys.ARROW_LEFT)
    assert int(browser.execute_script("return window.__hm.step()")) < loaded
    browser.find_element(By.ID, "p-first").click()
    assert browser.execute_script("return window.__hm.step()") == 0
    assert browser.execute_script("return window.__hmErrors") == [] and _console(browser) == []


def _overlaps(boxes: list[list[float]]) -> list[tuple[list[float], list[float]]]:
    out = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            if a[0] < b[0] + b[2] - 0.5 and b[0] < a[0] + a[2] - 0.5 and a[1] < b[1] + b[3] - 0.5 \
                    and b[1] < a[1] + a[3] - 0.5:
                out.append((a, b))
    return out


def test_timeline_text_never_overlaps(browser: Any, report: tuple[Path, dict[str, Any], list[dict[str, Any]]]
                                      ) -> None:
    """No label drawn on the canvas overlaps another, and no finding arrow crosses a label: whole run and zoomed."""
    path, header, _r = report
    for width in (1400, 800, 390):
        _open(browser, path, width)
        for zoom in (None, header["findings"][0]["steps"][1]):
            if zoom is not None:
                browser.execute_script(f"window.__hm.zoom(0.1, {zoom})")
            texts = browser.execute_script("return window.__hm.texts")
            arrows = browser.execute_script("return window.__hm.arrows")
            assert texts and _overlaps(texts) == []
            for x0, y, x1, _y in arrows:
                assert not any(t[0] < x1 and x0 < t[0] + t[2] and t[1] < y < t[1] + t[3] for t in texts)


def test_no_horizontal_overflow_at_800px_and_phone_width(
        browser: Any, report: tuple[Path, dict[str, Any], list[dict[str, Any]]]) -> None:
    """At 800 px and 390 px the page scrolls only vertically, and the findings keep their width."""
    path, _h, _r = report
    for width in (800, 390):
        _open(browser, path, width)
        dims = browser.execute_script("""
            var d = document.documentElement, f = document.querySelector('.finding .msg').getBoundingClientRect();
            return [d.scrollWidth, d.clientWidth, f.width];""")
        assert dims[0] <= dims[1], dims
        assert dims[2] > 0.5 * dims[1] - 60   # the message is not squeezed to a word per line


def test_layout_svg_labels_do_not_overlap(browser: Any, tmp_path: Path) -> None:
    """`highmem layout --svg` on 2.4 and 2.6: no two text labels overlap and all fit inside the picture."""
    for profile in ("linux-2.4", "linux-2.6", "linux-5.11"):
        svg = tmp_path / f"{profile}.svg"
        assert main(["layout", "--profile", profile, "--svg", str(svg)]) == 0
        browser.get(svg.resolve().as_uri())
        boxes, width = browser.execute_script("""
            var s = document.documentElement, out = [];
            document.querySelectorAll('text').forEach(function (t) {
              var b = t.getBBox(); out.push([b.x, b.y, b.width, b.height]); });
            return [out, s.width.baseVal.value];""")
        assert len(boxes) > 20
        assert _overlaps(boxes) == [], profile
        assert max(b[0] + b[2] for b in boxes) <= width, profile
