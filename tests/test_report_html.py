"""The HTML report: lanes, contexts, kmap slots, marks, findings, escaping, self-containment, CLI."""

from __future__ import annotations

import html
import json
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
    """A TOML scenario with a softirq and a hard irq nested on a task, reported with check --html."""
    d = tmp_path_factory.mktemp("nested")
    toml = d / "nested.toml"
    toml.write_text(NESTED_TOML.format(name="nested-irqs"), encoding="utf-8")
    out = d / "html"
    assert main(["check", str(toml), "--schedules", "5", "--html", str(out), "-q"]) == 1
    files = list(out.iterdir())
    assert [f.name for f in files] == [report_filename("nested-irqs")]
    return files[0], files[0].read_text(encoding="utf-8")


def _data(page: str) -> dict[str, Any]:
    """The JSON object the page embeds for its script."""
    m = re.search(r'<script type="application/json" id="trace-data">(.*?)</script>', page, re.S)
    assert m is not None
    return dict(json.loads(m.group(1)))


def _recs(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The embedded records unpacked to dicts (as the page's recObj does)."""
    out = []
    for r in data["rec"]:
        kind, fields = data["shapes"][r[0]]
        d: dict[str, Any] = {"step": r[1], "kind": kind}
        if r[2] >= 0:
            d["cpu"] = r[2]
        if r[3]:
            d["context"] = data["names"][r[3]]
        d.update(zip(fields, r[4:], strict=True))
        out.append(d)
    return out


def test_one_lane_per_cpu(stale: tuple[dict[str, Any], list[dict[str, Any]], str]) -> None:
    """The page draws one lane per CPU the header names, with the contexts of each."""
    header, _records, page = stale
    data = _data(page)
    assert header["cpus"] == data["meta"]["cpus"] == 2
    assert {iv[0] for iv in data["iv"]} == {0, 1}
    assert '<canvas id="timeline"' in page and '<canvas id="overview"' in page


def test_summary(stale: tuple[dict[str, Any], list[dict[str, Any]], str]) -> None:
    """Scenario, profile, steps, CPUs, contexts, schedule and every finding's message are in the summary."""
    header, records, page = stale
    summary = page[page.index('<section id="summary">'):page.index('<section id="timeline-section">')]
    for key in ("scenario", "profile", "steps", "CPUs", "schedule"):
        assert f"<dt>{key}</dt>" in summary
    assert "irq-uses-user-slot" in summary and "linux-2.4" in summary
    events = [r for r in records if r["kind"] not in ("cpu_state", "slot_state", "pkmap_state")]
    assert f"{header['steps']} <span" in summary and f"{len(events)} events" in summary
    for ctx in ("writer", "bystander", "eth0#1"):
        assert f'data-context="{html.escape(ctx)}"' in summary
    for f in header["findings"]:
        assert html.escape(f["kind"]) in summary and html.escape(f["message"]) in summary
    assert ", ".join(f"{p}: {html.escape(lab)}" for p, lab in header["choices"]) in summary
    assert "This page draws the shrunk schedule of the first finding." in summary


def test_contexts_slots_and_clobber(stale: tuple[dict[str, Any], list[dict[str, Any]], str]) -> None:
    """The writer's KM_USER0 holding, eth0#1's clobbering map, the stale stretch: in the model and the page."""
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
    data = _data(page)
    names = data["names"]
    rows = {(names[h[3]], h[1]): h for h in data["hold"]}
    pw, pe = rows[("writer", 3)], rows[("eth0#1", 3)]
    # [cpu, idx, type, name, kind, pfn, start, end, level, stale_from, stale_pfn, clobber, ...]
    assert pw[:3] == [0, 3, "KM_USER0"] and pw[5:12] == [mine, mapped, w.end, 0, clobbered, theirs, 0]
    assert pe[5:12] == [theirs, clobbered, e1, 1, -1, -1, 1]
    kinds = {(names[iv[1]], iv[2], iv[5]) for iv in data["iv"]}
    assert {("writer", "task", 0), ("eth0#1", "hardirq", 1), ("bystander", "task", 0)} <= kinds


def _packed(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the page should carry for ``records``: slot PTEs as hex with frame and flags decoded by the model."""
    from highmem.hw.pagetable import pte_flags_str

    return [dict(r, pte=f"{r['pte']:#x}", frame=r["pte"] >> 12, flags=pte_flags_str(r["pte"]))
            if r["kind"] == "slot_state" else r for r in records]


def test_page_carries_every_record(stale: tuple[dict[str, Any], list[dict[str, Any]], str]) -> None:
    """The packed records unpack to exactly the trace's records (what the player and details read)."""
    _header, records, page = stale
    assert any(r["kind"] == "slot_state" for r in records)
    assert _recs(_data(page)) == _packed(records)


def test_slot_state_flags_decoded(stale: tuple[dict[str, Any], list[dict[str, Any]], str]) -> None:
    """A slot PTE's flags are decoded by name: the writer's kmap_atomic maps with P, RW and G at least."""
    header, _records, page = stale
    mapped = header["findings"][0]["steps"][0]
    states = [r for r in _recs(_data(page)) if r["kind"] == "slot_state" and r["idx"] == 3 and r["step"] >= mapped]
    assert states and states[0]["frame"] == header["findings"][0]["pages"][0]
    assert {"P", "RW", "G"} <= set(states[0]["flags"].split("|"))


def test_findings_highlighted_and_linked(stale: tuple[dict[str, Any], list[dict[str, Any]], str]) -> None:
    """Each finding names its events in order: linked from the summary and passed to the timeline."""
    header, records, page = stale
    steps = header["findings"][0]["steps"]
    idx = {r["step"]: i for i, r in enumerate(records) if r["step"] in steps and r["kind"] in ("kmap_atomic", "load")}
    for n, st in enumerate(steps, start=1):
        i = idx[st]
        assert re.search(rf'<a class="step" href="#ev-{i}" data-ev="{i}" data-step="{st}" title="[^"]*"><b>{n}</b>',
                         page)
    data = _data(page)
    assert data["findings"][0]["events"] == [idx[s] for s in steps]
    assert data["findings"][0]["kind"] == "stale-access"


def test_self_contained(stale: tuple[dict[str, Any], list[dict[str, Any]], str]) -> None:
    """No URL, no external script, style, image or frame: the file works offline."""
    _h, _r, page = stale
    assert re.findall(r"https?://", page) == []
    assert not re.search(r"<(link|img|iframe|object|embed)\b", page)
    assert not re.search(r"<script[^>]*\ssrc=", page)
    assert not re.search(r"@import|url\(", page)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_scenario_strings_are_escaped(tmp_path: Path) -> None:
    """A trace whose header names the scenario <script>...: the report escapes it everywhere."""
    # A scenario cannot be called that (the name rule refuses it), but a trace file is data anyone can edit.
    assert main(["check", "irq-uses-user-slot", "--trace", str(tmp_path / "t.jsonl"), "-q"]) == 1
    lines = (tmp_path / "t.jsonl").read_text(encoding="utf-8").splitlines()
    lines[0] = json.dumps(dict(json.loads(lines[0]), scenario=EVIL))
    (tmp_path / "t.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["report", str(tmp_path / "t.jsonl"), "-o", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert report_filename(EVIL) == "_script_alert_1___script_.html"
    assert EVIL not in page
    assert html.escape(EVIL) in page
    assert page.count("<script") == 3  # the error hook, the JSON data, the page's own script
    assert f"<title>highmem report: {html.escape(EVIL)}</title>" in page
    assert _data(page)["meta"]["scenario"] == EVIL


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
    assert "<" not in data[len('id="trace-data">'):] and "&" not in data
    assert page.count("<script") == 3
    assert _recs(_data(page))[1]["message"] == bad + " & <em>pwn</em>"


def test_nested_softirq_and_hardirq(nested: tuple[Path, str]) -> None:
    """Task, softirq on it, hard IRQ on the softirq: three depths on CPU 0, and the flush and finding."""
    _path, page = nested
    data = _data(page)
    names = data["names"]
    ivs = {(names[iv[1]], iv[2], iv[5]) for iv in data["iv"] if iv[0] == 0}
    assert {("writer", "task", 0), ("net#1", "softirq", 1), ("eth0#1", "hardirq", 2)} <= ivs
    assert {h[2] for h in data["hold"]} >= {"KM_USER0", "KM_BH_IRQ"}
    recs = _recs(data)
    assert any(r["kind"] == "tlb_flush_all" for r in recs)
    # local_bh_disable shows in the state records: bh goes 1 then back to 0 on CPU 0.
    bh = [r["bh"] for r in recs if r["kind"] == "cpu_state" and r["cpu"] == 0]
    assert 1 in bh and bh[-1] == 0
    assert "stale-access" in page


def test_bug_and_fault_marks(tmp_path: Path) -> None:
    """A BUG() and a fault are records of the page, named by the findings; a lone fault still reports."""
    assert main(["check", "kmap-in-irq", "--schedules", "5", "--html", str(tmp_path), "-q"]) == 1
    page = (tmp_path / "kmap-in-irq.html").read_text(encoding="utf-8")
    data = _data(page)
    bugs = [i for i, r in enumerate(_recs(data)) if r["kind"] == "bug"]
    assert bugs and any(bugs[0] in f["events"] for f in data["findings"])
    assert "kernel-bug" in page
    records = [{"step": 0, "kind": "context", "cpu": 0, "context": "t", "ctx_kind": "task", "what": "start",
                "detail": ""},
               {"step": 4, "kind": "fault", "cpu": 0, "context": "t", "vaddr": 0xFFFF2000, "write": False,
                "message": "Oops: page fault on CPU 0"}]
    page = render_html({"scenario": "f", "profile": "linux-2.4", "steps": 4, "cpus": 1}, records)
    data = _data(page)
    assert _recs(data) == records
    assert data["iv"] == [[0, 1, "task", 0, 4, 0, 0, -1, 1]]   # still running at the end


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
               {"step": 5, "kind": "load"},
               {"step": 6, "kind": "bug", "cpu": 10**9, "context": "t"}]   # no machine has that CPU
    page = render_html({"schema": "highmem-trace", "version": 1}, records,
                       findings=[{"kind": "k", "message": "m", "steps": ["a", 2, 99], "slot": "x"}])
    data = _data(page)
    assert data["meta"]["cpus"] == 4 and _recs(data) == records
    assert [h[2] for h in data["hold"]] == ["KM_USER0"]
    from highmem.report.ftrace import ftrace_text
    from highmem.report.perfetto import perfetto_trace

    assert ftrace_text({}, records).startswith("cpus=4\n")
    pb = pytest.importorskip("perfetto.protos.perfetto.trace.perfetto_trace_pb2")
    trace = pb.Trace()
    trace.ParseFromString(perfetto_trace({}, records))
    assert [p.track_descriptor.name for p in trace.packet
            if p.HasField("track_descriptor") and p.track_descriptor.name.startswith("CPU ")
            and not p.track_descriptor.HasField("counter")] == ["CPU 0", "CPU 1", "CPU 2", "CPU 3"]


def test_context_colours_are_distinct_and_match_the_chips(stale: tuple[dict[str, Any], list[dict[str, Any]], str]
                                                          ) -> None:
    """Every task has its own colour, and the summary's chip of a context has the colour the timeline uses."""
    _h, _r, page = stale
    data = _data(page)
    colour = dict(zip(data["names"], data["meta"]["colours"], strict=True))
    assert colour["writer"] != colour["bystander"]
    assert colour["eth0#1"] not in (colour["writer"], colour["bystander"])
    for name in ("writer", "bystander", "eth0#1"):
        assert re.search(rf'data-context="{re.escape(name)}" style="background:{colour[name]}"', page)


def test_check_html_for_every_scenario_clean_ones_say_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--html writes a report for a clean scenario too: its schedule 0, saying it is clean."""
    out = tmp_path / "reports"
    rc = main(["check", "copy-highpage", "irq-uses-user-slot", "--schedules", "100", "--html", str(out), "-q"])
    assert rc == 1
    assert sorted(p.name for p in out.iterdir()) == ["copy-highpage.html", "irq-uses-user-slot.html"]
    clean = (out / "copy-highpage.html").read_text(encoding="utf-8")
    assert ("Clean: the checker found nothing in the 100 schedules explored. This page draws schedule 0, the first."
            in clean)
    assert '<span class="clean">clean</span>' in clean
    capsys.readouterr()
    afile = tmp_path / "a-file"
    afile.write_text("x", encoding="utf-8")
    assert main(["check", "irq-uses-user-slot", "--html", str(afile), "-q"]) == 2
    assert capsys.readouterr().err == f"highmem: --html {afile} is a file: name a directory to write reports into\n"


def test_check_html_schedule_k(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--schedule K draws the K-th schedule explored: the same run as recording schedule K directly."""
    from highmem.report.trace_io import record_schedule
    from highmem.scenarios import load_builtin
    from highmem.sim.explore import explore

    assert main(["check", "irq-uses-user-slot", "--schedules", "10", "--html", str(tmp_path), "--schedule", "7",
                 "-q"]) == 0
    page = (tmp_path / "irq-uses-user-slot.html").read_text(encoding="utf-8")
    assert "Clean: the checker found nothing in the 10 schedules explored. This page draws schedule 7." in page
    sc = load_builtin("irq-uses-user-slot")
    ex = explore(sc, sc.config(None, []), strategy="pct", schedules=10, seed=0)
    header, records, _f = record_schedule(ex, None, index=7)
    assert _recs(_data(page)) == _packed(records)
    capsys.readouterr()
    assert main(["check", "irq-uses-user-slot", "--schedules", "10", "--html", str(tmp_path), "--schedule",
                 "10", "-q"]) == 2
    assert capsys.readouterr().err == ("highmem: --schedule 10 is beyond the schedules explored: --schedules 10 "
                                       "explores schedules 0 to 9\n")
    assert main(["check", "copy-highpage", "--strategy", "exhaustive", "--schedules", "1000", "--html",
                 str(tmp_path), "--schedule", "999", "-q"]) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(r"highmem: --schedule 999 is beyond the schedules explored: copy-highpage explored "
                        r"(schedules 0 to \d+|only schedule 0)\n", err), err
    assert main(["check", "copy-highpage", "--trace-format", "ftrace", "-q"]) == 2
    assert capsys.readouterr().err == ("highmem: --trace-format ftrace applies only with --trace or --out: it is "
                                       "the format of the traces they write\n")
    assert main(["check", "copy-highpage", "--schedule", "1", "-q"]) == 2
    assert capsys.readouterr().err == ("highmem: --schedule 1 applies only with --trace or --html: it chooses "
                                       "the schedule they draw\n")


def test_exhaustive_schedule_k_is_the_kth_explored(tmp_path: Path) -> None:
    """With the exhaustive strategy, schedule K is enumerated again: the K-th schedule the exploration ran."""
    from highmem.report.trace_io import schedule_strategy
    from highmem.scenarios import load_builtin
    from highmem.sim.explore import _exhaustive, explore, run_once

    sc = load_builtin("irq-uses-user-slot")
    cfg = sc.config(None, [])
    ex = explore(sc, cfg, strategy="exhaustive", schedules=6)
    seen: list[Any] = []
    _exhaustive(sc, cfg, 6, 2, 2, lambda i, res: seen.append((i, res.choices, res.steps)), ex, False, {})
    for i, choices, steps in seen:
        res, _ = run_once(sc, cfg, schedule_strategy(ex, None, index=i))
        assert (res.choices, res.steps) == (choices, steps)


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
    assert main(["report", str(trace), "-o", str(tmp_path / "x"), "--trace-format", "svg"]) == 2
    assert capsys.readouterr().err == ("highmem: --trace-format 'svg' does not exist: choose jsonl, perfetto or "
                                       "ftrace\n")
    assert not (tmp_path / "x").exists()
    assert list(tmp_path.glob(".*.tmp")) == []


def test_bounce_io_report_is_small(tmp_path: Path) -> None:
    """bounce-io, 15,500 steps and 22,000 events: the page stays under 2 MB (it was 10 MB)."""
    assert main(["check", "bounce-io", "--schedules", "1", "--html", str(tmp_path), "-q"]) == 0
    page = (tmp_path / "bounce-io.html").read_text(encoding="utf-8")
    assert len(page.encode("utf-8")) <= 2_000_000
    data = _data(page)
    assert data["meta"]["last"] >= 15_000 and len(data["rec"]) > 22_000
