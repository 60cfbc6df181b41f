"""The HTML report: lanes, contexts, kmap slots, marks, findings, escaping, self-containment, CLI."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest

from highmem.cli import main
from highmem.report.html import analyse, render_html, report_filename
from highmem.report.trace_io import read_trace

EVIL = "<script>alert(1)</script>"

NESTED_TOML = """
[scenario]
name = "{name}"
description = "a softirq interrupts a task and a hard IRQ interrupts the softirq"
expect = ["stale-access"]

[machine]
profile = "linux-2.4"
cpus = 2
memory = "2G"

[pages]
user = {{ fill = "u" }}
soft = {{ fill = "s" }}
hard = {{ fill = "h" }}

[[task]]
name = "writer"
cpu = 0
ops = [
  {{ op = "kmap_atomic", page = "user", type = "KM_USER0", as = "p" }},
  {{ op = "store", addr = "p", data = "user data" }},
  {{ op = "raise_softirq", softirq = "net" }},
  {{ op = "local_bh_disable" }},
  {{ op = "local_bh_enable" }},
  {{ op = "work", steps = 3 }},
  {{ op = "load", addr = "p", size = 9, expect = "user data" }},
  {{ op = "kunmap_atomic", addr = "p", type = "KM_USER0" }},
  {{ op = "flush_tlb_all" }},
]

[[softirq]]
name = "net"
cpu = 0
max = 0
ops = [
  {{ op = "kmap_atomic", page = "soft", type = "KM_USER0", as = "q" }},
  {{ op = "raise_irq", irq = "eth0" }},
  {{ op = "work", steps = 2 }},
  {{ op = "kunmap_atomic", addr = "q", type = "KM_USER0" }},
]

[[irq]]
name = "eth0"
cpu = 0
max = 0
ops = [
  {{ op = "kmap_atomic", page = "hard", type = "KM_BH_IRQ", as = "r" }},
  {{ op = "load", addr = "r", size = 1 }},
  {{ op = "kunmap_atomic", addr = "r", type = "KM_BH_IRQ" }},
]
"""


@pytest.fixture(scope="module")
def stale(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """irq-uses-user-slot: its --trace, and the report `highmem report` makes of it."""
    d = tmp_path_factory.mktemp("stale")
    assert main(["check", "irq-uses-user-slot", "--trace", str(d / "t.jsonl"), "-q"]) == 1
    assert main(["report", str(d / "t.jsonl"), "-o", str(d / "r.html")]) == 0
    header, records = read_trace(d / "t.jsonl")
    return header, records, (d / "r.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def nested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A TOML scenario named <script>alert(1)</script>, reported with check --html."""
    d = tmp_path_factory.mktemp("nested")
    toml = d / "nested.toml"
    toml.write_text(NESTED_TOML.format(name=EVIL.replace('"', '\\"')), encoding="utf-8")
    out = d / "html"
    assert main(["check", str(toml), "--schedules", "5", "--html", str(out), "-q"]) == 1
    files = list(out.iterdir())
    assert [f.name for f in files] == [report_filename(EVIL)]
    return files[0], files[0].read_text(encoding="utf-8")


def _lanes(page: str) -> list[str]:
    return re.findall(r'<g class="lane" id="lane-(\d+)" data-cpu="\d+">', page)


def test_one_lane_per_cpu(stale: tuple[dict[str, Any], list[dict[str, Any]], str]) -> None:
    header, _records, page = stale
    assert header["cpus"] == 2
    assert _lanes(page) == ["0", "1"]
    assert "CPU 0</text>" in page and "CPU 1</text>" in page


def test_summary_table(stale: tuple[dict[str, Any], list[dict[str, Any]], str]) -> None:
    header, records, page = stale
    summary = page[page.index('<table class="summary">'):page.index("</table>")]
    for col in ("scenario", "profile", "steps", "CPUs", "contexts", "findings"):
        assert f"<th>{col}</th>" in summary
    assert "irq-uses-user-slot" in summary and "linux-2.4" in summary
    assert f"{header['steps']}<div" in summary and f"{len(records)} events" in summary
    for ctx in ("writer", "bystander", "eth0#1"):
        assert html.escape(ctx) in summary
    for f in header["findings"]:
        assert html.escape(f["kind"]) in summary
        assert html.escape(f["message"]) in summary
    assert ", ".join(f"{p}: {html.escape(lab)}" for p, lab in header["choices"]) in summary


def test_contexts_slots_and_clobber(stale: tuple[dict[str, Any], list[dict[str, Any]], str]) -> None:
    """The writer's KM_USER0 holding, eth0#1's clobbering map in the warning colour, the stale stretch."""
    header, records, page = stale
    mapped, clobbered, loaded = header["findings"][0]["steps"]
    mine, theirs = header["findings"][0]["pages"]
    m = analyse(header, records)
    ivs = {(iv.cpu, iv.name, iv.depth): (iv.start, iv.end) for iv in m.intervals}
    w0, w1 = ivs[(0, "writer", 0)]
    e0, e1 = ivs[(0, "eth0#1", 1)]  # nested on the writer, while the writer holds the slot
    assert w0 < mapped < e0 < clobbered <= e1 <= loaded < w1 <= header["steps"]
    assert (1, "bystander", 0) in ivs
    hold = {(h.context, h.idx): h for h in m.holdings}
    w, e = hold[("writer", 3)], hold[("eth0#1", 3)]
    assert (w.start, w.pfn, w.clobbers, w.level) == (mapped, mine, [], 0) and w.end > loaded
    assert (e.start, e.end, e.pfn, e.clobbers, e.level) == (clobbered, e1, theirs, ["writer"], 1)
    assert (w.stale_from, w.stale_by, w.stale_pfn) == (clobbered, "eth0#1", theirs)
    assert page.count('class="ctx ctx-task') == 2 and page.count('class="ctx ctx-hardirq') == 1
    assert page.count('class="hold clobber') == 1 and 'fill="url(#hatch-warn)"' in page
    assert page.count('class="stale"') == 1 and f"stale: now page {theirs:#x}" in page
    assert "KM_USER0</text>" not in page  # row labels carry the idx too
    assert "KM_USER0<tspan" in page
    # TLB flushes of the two kmap_atomics are marks.
    assert page.count("__flush_tlb_one(0xffff2000)") >= 2


def test_findings_highlighted_and_linked(stale: tuple[dict[str, Any], list[dict[str, Any]], str]) -> None:
    header, records, page = stale
    stale_f = header["findings"][0]
    steps = stale_f["steps"]
    idx = {}
    for i, r in enumerate(records):
        if r["step"] in steps and r["kind"] in ("kmap_atomic", "load"):
            idx[r["step"]] = i
    for st in steps:
        i = idx[st]
        assert f'<a class="step" href="#ev-{i}" data-ev="{i}"' in page
        assert f'<tr id="ev-{i}" data-ev="{i}" class="fnd">' in page
        assert f'data-tip="a finding names step {st}"' in page
    # The finding's events joined in order by arrows, numbered 1, 2, 3.
    link = re.search(r'<g class="flink" data-finding="1" data-ev="([\d ]+)"', page)
    assert link is not None and link.group(1) == " ".join(str(idx[s]) for s in steps)
    assert page.count('class="flink" data-finding="1"') == 2
    assert re.search(r'<g class="fdot" data-ev="\d+" data-tip="finding 1, event 3">', page)


def test_self_contained(stale: tuple[dict[str, Any], list[dict[str, Any]], str]) -> None:
    _h, _r, page = stale
    assert re.findall(r"https?://[^\s\"'<>]*", page) == ["http://www.w3.org/2000/svg"]
    assert not re.search(r"<(link|img|iframe|object|embed)\b", page)
    assert not re.search(r"<script[^>]*\ssrc=", page)
    assert not re.search(r"@import|url\((?!#)", page)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_scenario_strings_are_escaped(nested: tuple[Path, str]) -> None:
    path, page = nested
    assert path.name == "_script_alert_1___script_.html"
    assert EVIL not in page
    assert html.escape(EVIL) in page
    assert page.count("<script") == 3  # the error hook, the JSON data, the page's own script
    assert f"<title>highmem report: {html.escape(EVIL)}</title>" in page


def test_json_data_cannot_close_its_script() -> None:
    bad = "</script><script>alert(2)</script>"
    records = [{"step": 0, "kind": "context", "cpu": 0, "context": bad, "ctx_kind": "task", "what": "start",
                "detail": bad},
               {"step": 2, "kind": "bug", "cpu": 0, "context": bad, "function": bad,
                "message": bad + " & <em>pwn</em>"}]
    page = render_html({"scenario": bad, "profile": bad, "steps": 2, "cpus": 1}, records,
                       findings=[{"kind": bad, "message": bad, "steps": [2], "contexts": [bad]}])
    assert bad not in page
    assert "<em>pwn" not in page and "&amp; &lt;em&gt;pwn" in page
    data = page[page.index('id="trace-data">'):]
    data = data[:data.index("</script>")]
    assert "<" not in data[len('id="trace-data">'):]
    assert page.count("<script") == 3


def test_nested_softirq_and_hardirq(nested: tuple[Path, str]) -> None:
    _path, page = nested
    assert re.search(r'class="ctx ctx-task[^"]*" data-ev="[\d ]+" data-tip="writer \(task\) on CPU 0', page)
    assert re.search(r'class="ctx ctx-softirq[^"]*" data-ev="[\d ]+" data-tip="net#1 \(softirq\) on CPU 0', page)
    assert re.search(r'class="ctx ctx-hardirq[^"]*" data-ev="[\d ]+" data-tip="eth0#1 \(hard IRQ\) on CPU 0', page)
    assert ">nested ×2</text>" in page  # task, softirq on it, hard IRQ on the softirq
    assert "KM_BH_IRQ<tspan" in page
    assert "__flush_tlb_all()" in page  # the flush_tlb_all mark
    assert "stale-access" in page


def test_bug_and_fault_marks(tmp_path: Path) -> None:
    assert main(["check", "kmap-in-irq", "--schedules", "5", "--html", str(tmp_path), "-q"]) == 1
    page = (tmp_path / "kmap-in-irq.html").read_text(encoding="utf-8")
    assert re.search(r'<g class="mark fnd" data-ev="\d+" data-tip="step \d+: bug by serial#1', page)
    assert "kernel-bug" in page
    records = [{"step": 0, "kind": "context", "cpu": 0, "context": "t", "ctx_kind": "task", "what": "start",
                "detail": ""},
               {"step": 4, "kind": "fault", "cpu": 0, "context": "t", "vaddr": 0xFFFF2000, "write": False,
                "message": "Oops: page fault on CPU 0"}]
    page = render_html({"scenario": "f", "profile": "linux-2.4", "steps": 4, "cpus": 1}, records)
    assert re.search(r'<g class="mark" data-ev="1" data-tip="step 4: fault by t: Oops: page fault on CPU 0"', page)
    assert 'data-tip="t (task) on CPU 0 from step 0 still running at the end of the trace"' in page


def test_findings_argument_and_old_headers(stale: tuple[dict[str, Any], list[dict[str, Any]], str]) -> None:
    header, records, _page = stale
    bare = {k: v for k, v in header.items() if k not in ("findings", "finding")}
    page = render_html(bare, records)
    assert "none: the checker found nothing in this run" in page
    page = render_html(bare, records, findings=header["findings"][:1], title="my <title>")
    assert html.escape(header["findings"][0]["message"]) in page
    assert "<title>my &lt;title&gt;</title>" in page
    page = render_html(dict(bare, finding="stale-access"), records)
    assert "stale-access" in page and "records only the finding&#x27;s kind" in page


def test_odd_records_do_not_break_the_report() -> None:
    """Unknown kinds, missing or mistyped fields, CPUs beyond the header's: still a report."""
    records = [{"step": 0, "kind": "context", "cpu": 3, "context": "t", "ctx_kind": "weird", "what": "start"},
               {"step": 1, "kind": "something_new", "cpu": 3, "context": "t", "x": [1, 2]},
               {"step": 2, "kind": "kmap_atomic", "cpu": 3, "context": "t", "idx": "3", "type": None},
               {"step": 2, "kind": "kmap_atomic", "cpu": 3, "context": "t", "idx": 27, "type": "KM_USER0",
                "vaddr": "x", "pfn": None},
               {"step": 3, "kind": "kunmap_atomic", "cpu": 3, "context": "nobody", "idx": 27},
               {"step": 5, "kind": "load"}]
    page = render_html({"schema": "highmem-trace", "version": 1}, records,
                       findings=[{"kind": "k", "message": "m", "steps": ["a", 2, 99], "slot": "x"}])
    assert _lanes(page) == ["0", "1", "2", "3"]
    assert "something_new" in page and "KM_USER0<tspan" in page
    assert 'data-tip="t (task) on CPU 3' in page


def test_check_html_only_for_scenarios_with_findings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "reports"
    rc = main(["check", "copy-highpage", "irq-uses-user-slot", "--schedules", "100", "--html", str(out), "-q"])
    assert rc == 1
    assert sorted(p.name for p in out.iterdir()) == ["irq-uses-user-slot.html"]
    capsys.readouterr()
    afile = tmp_path / "a-file"
    afile.write_text("x", encoding="utf-8")
    assert main(["check", "irq-uses-user-slot", "--html", str(afile), "-q"]) == 2
    assert capsys.readouterr().err == f"highmem: --html {afile} is a file: name a directory to write reports into\n"


def test_report_cli_output_errors(stale: tuple[dict[str, Any], list[dict[str, Any]], str], tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "t.jsonl"
    assert main(["check", "irq-uses-user-slot", "--trace", str(trace), "-q"]) == 1
    capsys.readouterr()
    bad = tmp_path / "missing" / "r.html"
    assert main(["report", str(trace), "-o", str(bad)]) == 2
    assert capsys.readouterr().err == (f"highmem: report {bad} cannot be written: directory {bad.parent} "
                                       "does not exist\n")
    with pytest.raises(SystemExit) as ei:
        main(["report", str(trace)])
    assert ei.value.code == 2
    assert capsys.readouterr().err == "highmem: the following arguments are required: -o/--output\n"
