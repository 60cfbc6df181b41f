"""The HTML report in a real browser: headless Chromium renders it, runs its script without errors,
draws one lane per CPU with the finding in view, and takes a screenshot (kept in the test's tmp_path).

Locally the test skips when Chromium is absent; in CI (CI=true) it fails instead, since `.ci/run`
installs Debian's chromium.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from highmem.cli import main

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars"]


def _chromium() -> str:
    exe = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed, but CI=true: .ci/run must install it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium); in CI this test must run")
    return exe


def _run(exe: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / "chromium-profile"
    profile.mkdir(exist_ok=True)
    cmd = [exe, *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args]
    env = dict(os.environ, HOME=str(tmp))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env, check=False)


def _console_lines(stderr: str) -> list[str]:
    """Console messages and uncaught exceptions Chromium logged for the page."""
    return [ln for ln in stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("browser-report")
    assert main(["check", "irq-uses-user-slot", "--html", str(d), "-q"]) == 1
    path = d / "irq-uses-user-slot.html"
    assert path.exists()
    return path


def test_report_renders_in_chromium(report: Path, tmp_path: Path) -> None:
    exe = _chromium()
    page = report.read_text(encoding="utf-8")
    events = re.findall(r'<tr id="ev-(\d+)" data-ev="\d+" class="fnd">', page)
    assert events
    url = f"{report.resolve().as_uri()}#ev-{events[0]}"

    res = _run(exe, tmp_path, "--window-size=1400,900", "--virtual-time-budget=5000", "--dump-dom", url)
    assert res.returncode == 0, res.stderr[-2000:]
    dom = res.stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body is not None
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(1)))
    # The script ran to its end, both lanes have a drawn size, the finding is on screen.
    assert attrs.get("data-ready") == "yes", attrs
    assert attrs.get("data-lanes-rendered") == "2"
    assert int(attrs.get("data-findings-visible", "0")) >= 1
    assert len(re.findall(r'<g class="lane" id="lane-\d"', dom)) == 2
    assert "stale-access" in dom and 'class="hold clobber' in dom
    # No JavaScript error: none caught by the page's own hook, none logged by the browser.
    assert 'id="js-error"' not in dom
    assert _console_lines(res.stderr) == []
    # The event named in the URL is selected: its record is shown in the details panel.
    detail = re.search(r'<pre id="detail">(.*?)</pre>', dom, re.S)
    assert detail is not None and '"kind": "kmap_atomic"' in html.unescape(detail.group(1))
    assert re.search(rf'<tr id="ev-{events[0]}" data-ev="{events[0]}" class="fnd sel">', dom)

    shot = tmp_path / "shot.png"
    res = _run(exe, tmp_path, "--window-size=1400,900", "--virtual-time-budget=5000", f"--screenshot={shot}",
               report.resolve().as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    assert _console_lines(res.stderr) == []
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1400, 900)
    assert len(data) > 40_000  # a blank or error page compresses to a few kB
