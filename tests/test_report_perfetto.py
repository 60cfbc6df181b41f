"""`--trace-format perfetto`: a native Perfetto trace, decoded here with the perfetto package's protos."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from highmem.cli import main
from highmem.report.trace_io import read_trace

pb = pytest.importorskip("perfetto.protos.perfetto.trace.perfetto_trace_pb2")
TE = pb.TrackEvent


@pytest.fixture(scope="module")
def decoded(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[dict[str, Any]], Any]:
    """irq-uses-user-slot as a JSON Lines trace and, from the same run, a Perfetto trace."""
    d = tmp_path_factory.mktemp("perfetto")
    assert main(["check", "irq-uses-user-slot", "--trace", str(d / "t.jsonl"), "-q"]) == 1
    assert main(["check", "irq-uses-user-slot", "--trace", str(d / "t.pftrace"), "--trace-format", "perfetto",
                 "-q"]) == 1
    header, records = read_trace(d / "t.jsonl")
    trace = pb.Trace()
    trace.ParseFromString((d / "t.pftrace").read_bytes())
    return header, records, trace


def _tracks(trace: Any) -> dict[str, Any]:
    return {p.track_descriptor.name: p.track_descriptor for p in trace.packet if p.HasField("track_descriptor")}


def _events(trace: Any) -> list[Any]:
    return [p for p in trace.packet if p.HasField("track_event")]


def _slices(trace: Any, uuid: int) -> list[tuple[str, int, int, int]]:
    """(name, begin ns, end ns, depth) of every slice on a track, from its BEGIN/END pairs."""
    stack: list[tuple[str, int]] = []
    out = []
    for p in _events(trace):
        ev = p.track_event
        if ev.track_uuid != uuid:
            continue
        if ev.type == TE.TYPE_SLICE_BEGIN:
            stack.append((ev.name, p.timestamp))
        elif ev.type == TE.TYPE_SLICE_END:
            name, t0 = stack.pop()
            out.append((name, t0, p.timestamp, len(stack)))
    assert stack == []
    return sorted(out, key=lambda s: s[1])


def test_tracks(decoded: tuple[dict[str, Any], list[dict[str, Any]], Any]) -> None:
    """A root track, one per CPU under it, slot tracks and counters under their CPU."""
    _h, _r, trace = decoded
    t = _tracks(trace)
    root = t["highmem: irq-uses-user-slot on linux-2.4"]
    assert t["CPU 0"].parent_uuid == t["CPU 1"].parent_uuid == root.uuid
    assert t["findings"].parent_uuid == root.uuid
    assert t["KM_USER0 #3"].parent_uuid == t["CPU 0"].uuid
    assert t["KM_USER0 #3 (mapped while held, row 2)"].parent_uuid == t["CPU 0"].uuid
    for c in (0, 1):
        for what in ("kmap slots held", "preempt count", "IF (1 = interrupts on)", "local_bh_count", "pending IPIs"):
            assert t[f"CPU {c} {what}"].HasField("counter") and t[f"CPU {c} {what}"].parent_uuid == t[f"CPU {c}"].uuid
    assert t["pkmap entries in use"].HasField("counter")
    # Timestamps never go backwards, and every event names a described track.
    ts = [p.timestamp for p in _events(trace)]
    assert ts == sorted(ts)
    uuids = {d.uuid for d in t.values()}
    assert {p.track_event.track_uuid for p in _events(trace)} <= uuids


def test_context_slices_nest(decoded: tuple[dict[str, Any], list[dict[str, Any]], Any]) -> None:
    """CPU 0: the writer's slice with eth0#1 nested in it; one step is one microsecond."""
    header, records, trace = decoded
    t = _tracks(trace)
    cpu0 = _slices(trace, t["CPU 0"].uuid)
    assert [(n, d) for n, _a, _b, d in cpu0] == [("writer", 0), ("eth0#1", 1)]
    ctx = {(r["context"], r["what"]): r["step"] for r in records if r["kind"] == "context"}
    (_, w0, w1, _), (_, e0, e1, _) = cpu0
    assert (w0 // 1000, w1 // 1000) == (ctx[("writer", "start")], ctx[("writer", "end")])
    assert (e0 // 1000, e1 // 1000) == (ctx[("eth0#1", "irq_enter")], ctx[("eth0#1", "irq_exit")])
    assert w0 < e0 < e1 < w1
    assert [n for n, *_ in _slices(trace, t["CPU 1"].uuid)] == ["bystander"]


def test_slot_slices_holder_and_stale(decoded: tuple[dict[str, Any], list[dict[str, Any]], Any]) -> None:
    """KM_USER0: the writer's holding, stale from eth0#1's map on; eth0#1's clobbering holding on row 2."""
    header, _records, trace = decoded
    t = _tracks(trace)
    mapped, clobbered, _loaded = header["findings"][0]["steps"]
    mine, theirs = header["findings"][0]["pages"]
    row1 = _slices(trace, t["KM_USER0 #3"].uuid)
    assert [n for n, *_ in row1] == [f"writer · page {mine:#x}", f"STALE writer: now page {theirs:#x}"]
    assert row1[0][1] // 1000 == mapped and row1[1][1] // 1000 == clobbered and row1[0][2] == row1[1][1]
    row2 = _slices(trace, t["KM_USER0 #3 (mapped while held, row 2)"].uuid)
    assert [n for n, *_ in row2] == [f"CLOBBER eth0#1 · page {theirs:#x}"] and row2[0][1] // 1000 == clobbered


def _counter(trace: Any, uuid: int) -> list[tuple[int, int]]:
    return [(p.timestamp // 1000, p.track_event.counter_value) for p in _events(trace)
            if p.track_event.track_uuid == uuid and p.track_event.type == TE.TYPE_COUNTER]


def test_counters(decoded: tuple[dict[str, Any], list[dict[str, Any]], Any]) -> None:
    """Slots held on CPU 0 go 0, 1, 2, 1, 0; IF and the counters follow the trace's state records."""
    header, records, trace = decoded
    t = _tracks(trace)
    held = [v for _s, v in _counter(trace, t["CPU 0 kmap slots held"].uuid)]
    assert held == [0, 1, 2, 1, 0]
    want_if = [(r["step"], int(r["irq_enabled"])) for r in records if r["kind"] == "cpu_state" and r["cpu"] == 0]
    assert _counter(trace, t["CPU 0 IF (1 = interrupts on)"].uuid) == want_if
    assert {v for _s, v in _counter(trace, t["CPU 0 local_bh_count"].uuid)} == {0}
    assert _counter(trace, t["pkmap entries in use"].uuid) == [(0, 0)]


def test_bugs_and_findings_are_instants_joined_by_flows(decoded: tuple[dict[str, Any], list[dict[str, Any]], Any]
                                                        ) -> None:
    """Finding 1's flow: the writer's map, eth0#1's clobbering map, the stale load, then the finding."""
    header, _records, trace = decoded
    t = _tracks(trace)
    by_flow: list[tuple[int, int, str, bool]] = []
    for p in _events(trace):
        ev = p.track_event
        if 1 in ev.flow_ids or 1 in ev.terminating_flow_ids:
            by_flow.append((p.timestamp, ev.track_uuid, ev.name, 1 in ev.terminating_flow_ids))
    mapped, clobbered, loaded = header["findings"][0]["steps"]
    mine, theirs = header["findings"][0]["pages"]
    assert [(ts // 1000, tr, name.split(":")[0], end) for ts, tr, name, end in by_flow] == [
        (mapped, t["KM_USER0 #3"].uuid, f"writer · page {mine:#x}", False),
        (clobbered, t["KM_USER0 #3 (mapped while held, row 2)"].uuid, f"CLOBBER eth0#1 · page {theirs:#x}", False),
        (loaded, t["CPU 0"].uuid, "load", False),
        (loaded, t["findings"].uuid, "finding 1", True),
    ]
    finds = [p.track_event for p in _events(trace) if p.track_event.track_uuid == t["findings"].uuid]
    assert [f.name for f in finds] == ["finding 1: stale-access", "finding 2: data-mismatch"]
    assert all(f.type == TE.TYPE_INSTANT for f in finds)
    msg = {a.name: a.string_value for a in finds[0].debug_annotations}["message"]
    assert msg == header["findings"][0]["message"]


def test_bug_instant_and_escaping(tmp_path: Path) -> None:
    """A BUG() is an instant on its CPU's track; a context named like markup stays the same text."""
    from highmem.report.perfetto import perfetto_trace

    evil = "<b>\"x\" & y</b>\ud800"
    records = [{"step": 0, "kind": "context", "cpu": 0, "context": evil, "ctx_kind": "task", "what": "start",
                "detail": ""},
               {"step": 3, "kind": "bug", "cpu": 0, "context": evil, "function": "kmap_atomic", "message": "m"}]
    trace = pb.Trace()
    trace.ParseFromString(perfetto_trace({"scenario": evil, "cpus": 1, "steps": 3}, records))
    names = [p.track_event.name for p in trace.packet if p.HasField("track_event") and p.track_event.name]
    assert names[0] == evil[:-1] + "\ufffd"
    bug = next(p for p in trace.packet if p.track_event.name.startswith("BUG()"))
    assert bug.track_event.type == TE.TYPE_INSTANT and bug.timestamp // 1000 == 3
    assert bug.track_event.name == "BUG(): BUG() in kmap_atomic: m"


def test_out_and_report_write_perfetto(tmp_path: Path) -> None:
    """--out writes the .pftrace beside each .trace.jsonl; `report --trace-format perfetto` converts a trace."""
    assert main(["check", "irq-uses-user-slot", "--out", str(tmp_path), "--trace-format", "perfetto", "-q"]) == 1
    pf = tmp_path / "irq-uses-user-slot.stale-access.pftrace"
    assert pf.exists() and (tmp_path / "irq-uses-user-slot.stale-access.trace.jsonl").exists()
    out = tmp_path / "conv.pftrace"
    assert main(["report", str(tmp_path / "irq-uses-user-slot.stale-access.trace.jsonl"), "-o", str(out),
                 "--trace-format", "perfetto"]) == 0
    a, b = pb.Trace(), pb.Trace()
    a.ParseFromString(pf.read_bytes())
    b.ParseFromString(out.read_bytes())
    assert [p.track_descriptor.name for p in a.packet if p.HasField("track_descriptor")] == \
        [p.track_descriptor.name for p in b.packet if p.HasField("track_descriptor")]


def test_missing_perfetto_package_is_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Without the perfetto package: one sentence naming the extra, exit 2, before exploring."""
    monkeypatch.setitem(sys.modules, "perfetto.protos.perfetto.trace", None)
    assert main(["check", "irq-uses-user-slot", "--trace", str(tmp_path / "t.pftrace"), "--trace-format",
                 "perfetto", "-q"]) == 2
    cap = capsys.readouterr()
    assert cap.err == ("highmem: --trace-format perfetto needs the perfetto package: "
                       "pip install 'highmem[perfetto]'\n") and cap.out == ""
