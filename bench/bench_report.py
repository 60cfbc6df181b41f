"""The HTML report of bounce-io in headless Chromium: size, load time, time to interactive, DOM nodes.

``python bench/bench_report.py`` writes bounce-io's report (schedule 0: what ``highmem check bounce-io
--html DIR`` draws, 15,500 steps and 22,000 events), opens it REPEAT times in one headless Chromium
(Debian's chromium and chromedriver, driven by selenium) and prints, per page:

* size: the file's bytes (target: at most 2 MB);
* load: navigation start to the load event (median of the runs);
* interactive: navigation start to the first moment the page runs a script of ours after loading,
  i.e. its own script has finished and the main thread is free (target: under 1 s);
* zoom: the time one wheel event takes to redraw the timeline (the page's handler is synchronous);
* DOM nodes: ``document.getElementsByTagName('*').length`` once loaded.

``python bench/bench_report.py OLD.html`` also measures another page side by side (say, a report made
by an older highmem) in the same browser, so the two are compared in one run.

``--screenshots DIR`` also writes the screenshots of docs/img: the timeline and player of
irq-uses-user-slot at 1400 px, the page at 800 px and at phone width, the timeline and player of the
kmap_high IPI deadlock at its last step, bounce-io zoomed in, and the layout SVG of linux-2.6.
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_BYTES = 2_000_000
TARGET_INTERACTIVE_S = 1.0
REPEAT = 5
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars"]


def browser(profile: str) -> Any:
    """Headless Chromium through Debian's chromedriver (nothing is downloaded)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for f in [*FLAGS, f"--user-data-dir={profile}"]:
        opts.add_argument(f)
    d = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=opts)
    d.set_window_size(1400, 900)
    return d


def bounce_report(out: Path) -> Path:
    """bounce-io's report, as ``check bounce-io --schedules 1 --html`` writes it."""
    from highmem.cli import main

    if main(["check", "bounce-io", "--schedules", "1", "--html", str(out), "-q"]) != 0:
        raise SystemExit("bench_report: bounce-io was expected to be clean")
    return out / "bounce-io.html"


def measure(d: Any, page: Path, repeat: int = REPEAT) -> dict[str, float]:
    """Median load and interactive times, the zoom redraw time and the DOM node count of ``page``."""
    loads, inter, zooms = [], [], []
    nodes = 0
    for _ in range(repeat):
        d.get("about:blank")
        d.get(page.resolve().as_uri())
        t = d.execute_script("""
            var n = performance.getEntriesByType('navigation')[0];
            return [n.loadEventEnd, performance.now(), document.getElementsByTagName('*').length];""")
        loads.append(t[0] / 1000)
        inter.append(t[1] / 1000)
        nodes = int(t[2])
        z = d.execute_script("""
            var c = document.getElementById('timeline');
            if (!c || c.tagName !== 'CANVAS') { return -1; }
            var b = c.getBoundingClientRect(), t0 = performance.now();
            c.dispatchEvent(new WheelEvent('wheel', {deltaY: -120, clientX: b.left + b.width / 2, clientY: b.top + 40,
                                                     bubbles: true, cancelable: true}));
            return performance.now() - t0;""")
        if z >= 0:
            zooms.append(z / 1000)
    return {"bytes": page.stat().st_size, "load": statistics.median(loads), "interactive": statistics.median(inter),
            "zoom": statistics.median(zooms) if zooms else float("nan"), "nodes": nodes}


def screenshots(d: Any, out: Path, bounce: Path, work: Path) -> list[Path]:
    """The docs' screenshots (PNG) into ``out``."""
    from highmem.cli import main

    out.mkdir(parents=True, exist_ok=True)
    assert main(["check", "irq-uses-user-slot", "--html", str(work), "-q"]) == 1
    page = (work / "irq-uses-user-slot.html").resolve().as_uri()
    shots: list[Path] = []

    def shot(name: str, width: int, url: str, script: str = "", element: str | None = None,
             full: bool = True) -> None:
        d.set_window_size(width, 900)
        d.get(url)
        if script:
            d.execute_script(script)
        time.sleep(0.2)
        p = out / name
        if element:
            d.find_element("css selector", element).screenshot(str(p))
        else:
            if full:
                h = int(d.execute_script("return document.documentElement.scrollHeight"))
                d.set_window_size(width, min(h + 10, 4000))
                time.sleep(0.2)
            d.save_screenshot(str(p))
        shots.append(p)

    shot("report-timeline.png", 1400, page, "window.__hm.setStep(38)", element="#timeline-section")
    shot("report-player.png", 1400, page, "window.__hm.setStep(40)", element="#player")
    shot("report-800px.png", 800, page, "window.__hm.setStep(38)")
    shot("report-phone.png", 390, page, "window.__hm.setStep(38)")
    assert main(["check", "kmap-high-ipi-deadlock-2024", "--html", str(work), "-q"]) == 1
    dl = (work / "kmap-high-ipi-deadlock-2024.html").resolve().as_uri()
    shot("report-deadlock.png", 1400, dl, "window.__hm.setStep(31)", element="#timeline-section")
    shot("report-deadlock-player.png", 1400, dl, "window.__hm.setStep(31)", element="#player")
    shot("report-bounce-io.png", 1400, bounce.resolve().as_uri(),
         "window.__hm.zoom(0.012, 160); window.__hm.setStep(161)", element="#timeline-section")
    svg = work / "layout-2.6.svg"
    assert main(["layout", "--profile", "linux-2.6", "--svg", str(svg)]) == 0
    shot("layout-2.6.png", 940, svg.resolve().as_uri(), full=True)
    return shots


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pages", nargs="*", type=Path, help="other HTML reports to measure side by side")
    ap.add_argument("--repeat", type=int, default=REPEAT)
    ap.add_argument("--screenshots", type=Path, metavar="DIR", help="also write the docs' screenshots here")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-report-"))
    profile = tempfile.mkdtemp(prefix="bench-report-chromium-")
    d = browser(profile)
    try:
        t0 = time.perf_counter()
        bounce = bounce_report(work / "html")
        build = time.perf_counter() - t0
        rows = [("bounce-io (this highmem)", measure(d, bounce, args.repeat))]
        rows += [(str(p), measure(d, p, args.repeat)) for p in args.pages]
        print(f"bounce-io report written in {build:.2f} s (one schedule explored and recorded)")
        print(f"{'page':40} {'size':>10} {'load':>8} {'interactive':>12} {'zoom':>8} {'DOM nodes':>10}")
        for name, m in rows:
            print(f"{name[-40:]:40} {m['bytes'] / 1e6:>8.2f}MB {m['load']:>7.2f}s {m['interactive']:>11.2f}s "
                  f"{m['zoom'] * 1000:>6.1f}ms {m['nodes']:>10,}")
        ok = rows[0][1]["bytes"] <= TARGET_BYTES and rows[0][1]["interactive"] < TARGET_INTERACTIVE_S
        print(f"targets: size <= {TARGET_BYTES / 1e6:.0f} MB, interactive < {TARGET_INTERACTIVE_S:.0f} s: "
              + ("met" if ok else "MISSED"))
        if args.screenshots:
            for p in screenshots(d, args.screenshots, bounce, work):
                print(f"wrote {p}")
    finally:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
