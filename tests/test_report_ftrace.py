"""`--trace-format ftrace`: `trace-cmd report` text, parsed back here line by line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from highmem.cli import main
from highmem.report.ftrace import ftrace_text, unescape
from highmem.report.trace_io import read_trace

# Written here, not imported: the layout trace-cmd report prints (COMM-PID [CPU] FLAGS SECS: EVENT: FIELDS).
LINE = re.compile(r"^ *(\S+)-(\d+) +\[(\d{3})\] ([.d][.N][.hsH][.\d]) +(\d+)\.(\d{6}): (\w+): (.*)$")


def _parse(text: str) -> tuple[list[str], list[dict[str, Any]]]:
    head, lines = [], []
    for ln in text.splitlines():
        m = LINE.match(ln)
        if m is None:
            head.append(ln)
            continue
        comm, pid, cpu, flags, sec, usec, event, fields = m.groups()
        kv = dict(re.findall(r"(\w+)=(\S+)", fields))
        lines.append({"comm": unescape(comm), "pid": int(pid), "cpu": int(cpu), "flags": flags,
                      "step": int(sec) * 1_000_000 + int(usec), "event": event, "fields": kv, "raw": fields})
    return head, lines


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[dict[str, Any]], list[str],
                                                              list[dict[str, Any]]]:
    d = tmp_path_factory.mktemp("ftrace")
    assert main(["check", "irq-uses-user-slot", "--trace", str(d / "t.jsonl"), "-q"]) == 1
    assert main(["check", "irq-uses-user-slot", "--trace", str(d / "t.txt"), "--trace-format", "ftrace", "-q"]) == 1
    header, records = read_trace(d / "t.jsonl")
    head, lines = _parse((d / "t.txt").read_text(encoding="utf-8"))
    return header, records, head, lines


def test_every_line_parses(parsed: tuple[dict[str, Any], list[dict[str, Any]], list[str], list[dict[str, Any]]]
                           ) -> None:
    """Only the cpus= line and one comment are not event lines; timestamps never go backwards."""
    header, _records, head, lines = parsed
    assert head[0] == f"cpus={header['cpus']}" and len(head) == 2 and head[1].startswith("# highmem: ")
    assert [ln["step"] for ln in lines] == sorted(ln["step"] for ln in lines)


def test_highmem_events_match_the_trace(parsed: tuple[dict[str, Any], list[dict[str, Any]], list[str],
                                                      list[dict[str, Any]]]) -> None:
    """kmap_atomic, kunmap_atomic, set_pte, flush_tlb_one: one line per record, same step, CPU and fields."""
    _h, records, _head, lines = parsed
    names = {"kmap_atomic": "kmap_atomic", "kunmap_atomic": "kunmap_atomic", "set_pte": "set_pte",
             "tlb_flush_one": "flush_tlb_one", "load": "load", "store": "store"}
    want = [(names[r["kind"]], r["step"], r["cpu"]) for r in records if r["kind"] in names]
    got = [(ln["event"], ln["step"], ln["cpu"]) for ln in lines if ln["event"] in names.values()]
    assert got == want
    km = [r for r in records if r["kind"] == "kmap_atomic"]
    kl = [ln for ln in lines if ln["event"] == "kmap_atomic"]
    assert [(int(ln["fields"]["page"], 16), ln["fields"]["type"], int(ln["fields"]["idx"]),
             int(ln["fields"]["vaddr"], 16)) for ln in kl] == [(r["pfn"], r["type"], r["idx"], r["vaddr"]) for r in km]
    sp = [r for r in records if r["kind"] == "set_pte"]
    assert [int(ln["fields"]["new"], 16) for ln in lines if ln["event"] == "set_pte"] == [r["new"] for r in sp]


def test_scheduler_and_irq_events(parsed: tuple[dict[str, Any], list[dict[str, Any]], list[str],
                                                list[dict[str, Any]]]) -> None:
    """sched_switch in and out of each task, the IRQ handler's entry and exit, and the h flag between them."""
    _h, records, _head, lines = parsed
    sw = [(ln["cpu"], ln["fields"]["prev_comm"], ln["fields"]["next_comm"]) for ln in lines
          if ln["event"] == "sched_switch"]
    assert sw == [(0, "swapper/0", "writer"), (0, "writer", "swapper/0"), (1, "swapper/1", "bystander"),
                  (1, "bystander", "swapper/1")]
    assert [ln["fields"]["prev_state"] for ln in lines if ln["event"] == "sched_switch"][1] == "X"
    entry = next(ln for ln in lines if ln["event"] == "irq_handler_entry")
    exit_ = next(ln for ln in lines if ln["event"] == "irq_handler_exit")
    ctx = {(r["context"], r["what"]): r["step"] for r in records if r["kind"] == "context"}
    assert (entry["step"], entry["fields"]["name"], entry["comm"]) == (ctx[("eth0#1", "irq_enter")], "eth0", "writer")
    assert exit_["step"] == ctx[("eth0#1", "irq_exit")] and exit_["fields"]["irq"] == entry["fields"]["irq"]
    inside = lines[lines.index(entry):lines.index(exit_) + 1]
    assert all(ln["flags"][2] == "h" for ln in inside)
    assert all(ln["flags"][2] == "." for ln in lines if ln["step"] < entry["step"])
    # One step is one microsecond: the clobbering map is at 0.0000NN for step NN.
    clob = [ln for ln in inside if ln["event"] == "kmap_atomic"][0]
    assert clob["step"] == records[[i for i, r in enumerate(records) if r["kind"] == "kmap_atomic"][1]]["step"]


def test_softirq_bh_and_irqs_off(tmp_path: Path) -> None:
    """softirq_entry/exit with the s flag; a hard IRQ inside a softirq is H; interrupts off show d."""
    records = [
        {"step": 0, "kind": "context", "cpu": 0, "context": "t", "ctx_kind": "task", "what": "start", "detail": ""},
        {"step": 1, "kind": "context", "cpu": 0, "context": "net#1", "ctx_kind": "softirq", "what": "softirq_enter",
         "detail": "net"},
        {"step": 2, "kind": "context", "cpu": 0, "context": "eth0#1", "ctx_kind": "hardirq", "what": "irq_enter",
         "detail": "eth0"},
        {"step": 2, "kind": "cpu_state", "cpu": 0, "irq_enabled": False, "bh": 1, "hardirq": 1, "preempt": 2,
         "locks": [], "ipis": 0, "pending": []},
        {"step": 3, "kind": "tlb_fill", "cpu": 0, "vaddr": 4096, "pfn": 7},
        {"step": 4, "kind": "context", "cpu": 0, "context": "eth0#1", "ctx_kind": "hardirq", "what": "irq_exit",
         "detail": "eth0"},
        {"step": 5, "kind": "context", "cpu": 0, "context": "net#1", "ctx_kind": "softirq", "what": "softirq_exit",
         "detail": "net"},
    ]
    _head, lines = _parse(ftrace_text({"cpus": 1, "steps": 5}, records))
    ev = [(ln["event"], ln["flags"]) for ln in lines]
    assert ev == [("sched_switch", "...."), ("softirq_entry", "..s."), ("irq_handler_entry", "..H."),
                  ("tlb_fill", "d.H2"), ("irq_handler_exit", "d.H2"), ("softirq_exit", "d.s2")]
    assert lines[1]["fields"] == {"vec": "0", "action": "net"}


def test_names_are_escaped_and_parse_back() -> None:
    """A context or scenario name with spaces, '=' or markup stays one token and unescapes to itself."""
    evil = 'my task = "<b>x</b>" \\ é'
    records = [{"step": 0, "kind": "context", "cpu": 0, "context": evil, "ctx_kind": "task", "what": "start",
                "detail": ""},
               {"step": 1, "kind": "bug", "cpu": 0, "context": evil, "function": "f n", "message": "a = b\nc"}]
    text = ftrace_text({"scenario": evil, "cpus": 1, "steps": 1}, records)
    assert evil not in text and "\nc" not in text
    _head, lines = _parse(text)
    assert [ln["comm"] for ln in lines] == ["<idle>", evil]  # the switch to the task is the idle task's line
    assert unescape(lines[0]["fields"]["next_comm"]) == evil
    assert unescape(lines[1]["fields"]["message"]) == "a = b\nc" and unescape(lines[1]["fields"]["function"]) == "f n"
