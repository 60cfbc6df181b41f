"""A trace as a native Perfetto trace (protobuf ``Trace`` of ``TracePacket``\\s, TrackEvent format).

Built with the protos of the ``perfetto`` package (``pip install 'highmem[perfetto]'``) and opened
in ui.perfetto.dev or ``trace_processor``.  One step is one microsecond; the records of one step
are spread over its microsecond one nanosecond apart, so their order survives.

Tracks (``docs/trace.md`` lists them):

* under the root track (the scenario), one track per CPU with the contexts that ran on it as
  nested slices (a task at the bottom, a softirq or hard IRQ on top of what it interrupted) and
  BUG()/WARN/fault instants;
* under each CPU, one track per kmap slot it used (``KM_USER0 #3``; a second row when a context
  mapped the slot while another still held it): a slice per holding, named by the holder and
  page, split where the holder's mapping went stale;
* counters per CPU: slots held, preempt count, IF (1 = interrupts on), local_bh_count, pending
  IPIs; one for the pkmap entries in use;
* a findings track with one instant per finding; a flow joins each finding's events in order (the
  map, the clobbering map, the access) and ends at the finding.

Every string is handed to protobuf as text (length-delimited, nothing to escape); a string the
trace could not have produced as UTF-8 is repaired with U+FFFD.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from highmem.errors import HighmemError
from highmem.report.timeline_model import Holding, _finding_events, _findings_of, _int, analyse, summarize

__all__ = ["perfetto_trace", "write_perfetto", "STEP_NS"]

_SURROGATE = re.compile("[\ud800-\udfff]")
STEP_NS = 1000          # one step = one microsecond
_BEGIN, _END, _INSTANT, _COUNTER = 1, 2, 3, 4
SEQ = 1                 # the trusted packet sequence of every packet


def _protos() -> Any:
    try:
        from perfetto.protos.perfetto.trace import perfetto_trace_pb2 as pb
    except ImportError:
        raise HighmemError("--trace-format perfetto needs the perfetto package: pip install 'highmem[perfetto]'"
                           ) from None
    return pb


def _s(v: Any) -> str:
    """Any value as text protobuf accepts (lone surrogates replaced by U+FFFD)."""
    return _SURROGATE.sub("\ufffd", str(v))


class _Builder:
    """Collects track descriptors and timed events, then serializes them in time order."""

    def __init__(self, pb: Any) -> None:
        self.pb = pb
        self.trace = pb.Trace()
        self.next_uuid = 1
        self.events: list[tuple[int, int, int, dict[str, Any]]] = []   # (ts, order, seq, spec)
        self.seq = 0

    def track(self, name: str, parent: int | None = None, *, counter: bool = False, rank: int = 0,
              unit: str = "") -> int:
        uuid = self.next_uuid
        self.next_uuid += 1
        p = self.trace.packet.add()
        p.trusted_packet_sequence_id = SEQ
        d = p.track_descriptor
        d.uuid = uuid
        d.name = _s(name)
        d.child_ordering = self.pb.TrackDescriptor.EXPLICIT
        d.sibling_order_rank = rank
        if parent is not None:
            d.parent_uuid = parent
        if counter:
            d.counter.SetInParent()
            if unit:
                d.counter.unit_name = _s(unit)
        return uuid

    def add(self, ts: int, order: int, **spec: Any) -> None:
        self.seq += 1
        self.events.append((ts, order, self.seq, spec))

    def serialize(self) -> bytes:
        te = self.pb.TrackEvent
        for ts, _o, _s2, spec in sorted(self.events, key=lambda e: (e[0], e[1], e[2])):
            p = self.trace.packet.add()
            p.timestamp = ts
            p.trusted_packet_sequence_id = SEQ
            ev = p.track_event
            ev.type = {_BEGIN: te.TYPE_SLICE_BEGIN, _END: te.TYPE_SLICE_END, _INSTANT: te.TYPE_INSTANT,
                       _COUNTER: te.TYPE_COUNTER}[spec["type"]]
            ev.track_uuid = spec["track"]
            if "name" in spec:
                ev.name = _s(spec["name"])
            if "value" in spec:
                ev.counter_value = int(spec["value"])
            if spec.get("cat"):
                ev.categories.append(spec["cat"])
            for fid in spec.get("flows", ()):
                ev.flow_ids.append(fid)
            for fid in spec.get("ends_flows", ()):
                ev.terminating_flow_ids.append(fid)
            for k, v in spec.get("args", {}).items():
                a = ev.debug_annotations.add()
                a.name = _s(k)
                if isinstance(v, bool):
                    a.bool_value = v
                elif isinstance(v, int) and -(1 << 63) <= v < (1 << 63):
                    a.int_value = v
                else:
                    a.string_value = _s(v)
        return bytes(self.trace.SerializeToString())


def _timestamps(records: list[dict[str, Any]]) -> list[int]:
    """A distinct, increasing nanosecond time per record: step microseconds plus its rank in the step."""
    out: list[int] = []
    prev, rank = -1, 0
    for r in records:
        st = _int(r.get("step"), 0)
        rank = rank + 1 if st == prev else 0
        prev = st
        out.append(st * STEP_NS + min(rank, STEP_NS - 2))
    return out


def perfetto_trace(header: dict[str, Any], records: list[dict[str, Any]],
                   findings: list[dict[str, Any]] | None = None) -> bytes:
    """The serialized Perfetto trace of a highmem trace (``header``, ``records``)."""
    pb = _protos()
    b = _Builder(pb)
    model = analyse(header, records)
    ts = _timestamps(records)
    end_ts = (max(model.last, ts[-1] // STEP_NS if ts else 0) + 1) * STEP_NS - 1

    def at(i: int) -> int:
        return ts[i] if 0 <= i < len(ts) else end_ts

    root = b.track(f"highmem: {header.get('scenario', 'trace')} on {header.get('profile', '?')}")
    cpu_track = {c: b.track(f"CPU {c}", root, rank=c) for c in range(model.cpus)}
    findings_track = b.track("findings", root, rank=model.cpus + 1)
    pkmap_track = b.track("pkmap entries in use", root, counter=True, rank=model.cpus + 2)

    # Contexts: nested slices on the CPU's track.  At one time, ends before begins, deeper ends first.
    for iv in model.intervals:
        tr = cpu_track[iv.cpu]
        b.add(at(iv.start_ev), 10 + iv.depth, type=_BEGIN, track=tr, name=iv.name, cat=iv.kind,
              args={"context": iv.name, "kind": iv.kind, "cpu": iv.cpu, "from step": iv.start})
        b.add(at(iv.end_ev) if iv.end_ev >= 0 else end_ts, -iv.depth - 1, type=_END, track=tr)

    fl = _findings_of(header, findings)
    by_step: dict[int, list[int]] = {}
    for i, r in enumerate(records):
        by_step.setdefault(_int(r.get("step"), 0), []).append(i)
    fevents = [_finding_events(f, by_step, records) for f in fl]
    flows_at: dict[int, list[int]] = {}
    for n, evs in enumerate(fevents, start=1):
        for i in evs:
            flows_at.setdefault(i, []).append(n)

    # kmap slots: a track per (CPU, slot, row); a holding is a slice, split where it went stale.
    slot_tracks: dict[tuple[int, int, int], int] = {}
    held = {c: 0 for c in range(model.cpus)}
    held_track = {c: b.track(f"CPU {c} kmap slots held", cpu_track[c], counter=True, rank=0)
                  for c in range(model.cpus)}
    for c in range(model.cpus):
        b.add(0, 0, type=_COUNTER, track=held_track[c], value=0)
    clobber_at: dict[tuple[int, str, int], int] = {}
    for h in model.holdings:
        clobber_at.setdefault((h.start, h.context, h.idx), h.start_ev)
    flowed: set[int] = set()
    deltas: list[tuple[int, int, int]] = []     # (time, +1 or -1, CPU): slots held
    for h in sorted(model.holdings, key=lambda h: (h.cpu, h.idx, h.level, h.start)):
        key = (h.cpu, h.idx, h.level)
        if key not in slot_tracks:
            name = f"{h.type} #{h.idx}" + (f" (mapped while held, row {h.level + 1})" if h.level else "")
            slot_tracks[key] = b.track(name, cpu_track[h.cpu], rank=10 + h.idx * 4 + h.level)
        _holding(b, h, slot_tracks[key], at, end_ts, clobber_at, flows_at, flowed)
        deltas.append((at(h.start_ev), 1, h.cpu))
        deltas.append((at(h.end_ev) if h.end_ev >= 0 else end_ts, -1, h.cpu))
    for t, d, c in sorted(deltas):   # at one time, releases (-1) before new holdings
        held[c] += d
        b.add(t, 5, type=_COUNTER, track=held_track[c], value=held[c])

    # State counters (version 2 traces) and marks.
    state_tracks: dict[tuple[int, str], int] = {}

    def counter(c: int, what: str, t: int, v: int) -> None:
        key = (c, what)
        if key not in state_tracks:
            rank = {"preempt count": 1, "IF (1 = interrupts on)": 2, "local_bh_count": 3, "pending IPIs": 4}[what]
            state_tracks[key] = b.track(f"CPU {c} {what}", cpu_track[c], counter=True, rank=rank)
        b.add(t, 6, type=_COUNTER, track=state_tracks[key], value=v)

    pkmap: dict[int, int] = {}
    have_pkmap_state = any(r.get("kind") == "pkmap_state" for r in records)
    have_cpu_state = any(r.get("kind") == "cpu_state" for r in records)   # version 2
    for i, r in enumerate(records):
        k = r.get("kind")
        c = _int(r.get("cpu"))
        t = ts[i]
        if k == "cpu_state" and c in cpu_track:
            counter(c, "preempt count", t, _int(r.get("preempt"), 0))
            counter(c, "IF (1 = interrupts on)", t, 1 if r.get("irq_enabled") else 0)
            counter(c, "local_bh_count", t, _int(r.get("bh"), 0))
            counter(c, "pending IPIs", t, _int(r.get("ipis"), 0))
        elif k == "irq_flags" and c in cpu_track and not have_cpu_state:
            counter(c, "IF (1 = interrupts on)", t, 1 if r.get("enabled") else 0)
        elif k == "pkmap_state":
            b.add(t, 6, type=_COUNTER, track=pkmap_track, value=_int(r.get("used"), 0))
        elif k in ("kmap", "kunmap") and not have_pkmap_state and _int(r.get("nr")) >= 0:
            pkmap[_int(r.get("nr"))] = _int(r.get("pkmap_count"), 0)
            b.add(t, 6, type=_COUNTER, track=pkmap_track, value=sum(1 for v in pkmap.values() if v > 1))
        elif k in ("bug", "warn", "fault") and c in cpu_track:
            label = {"bug": "BUG()", "warn": "WARN_ON", "fault": "page fault"}[str(k)]
            b.add(t, 20, type=_INSTANT, track=cpu_track[c], name=f"{label}: {summarize(r)}", cat=str(k),
                  flows=flows_at.get(i, []), args={"context": _s(r.get("context", "")), "step": r.get("step")})
            flowed.add(i)
    if not have_pkmap_state and not pkmap:
        b.add(0, 6, type=_COUNTER, track=pkmap_track, value=0)

    # The rest of each finding's events, as instants the flow passes through, then the finding.
    for i, ns in sorted(flows_at.items()):
        if i in flowed:
            continue
        r = records[i]
        c = _int(r.get("cpu"))
        tr = cpu_track.get(c, findings_track)
        b.add(ts[i], 20, type=_INSTANT, track=tr, name=f"{r.get('kind')}: {summarize(r)}", cat="finding-event",
              flows=ns, args={"context": _s(r.get("context", "")), "step": r.get("step")})
    for n, (f, evs) in enumerate(zip(fl, fevents, strict=True), start=1):
        t = max((ts[i] for i in evs), default=end_ts - 1) + 1
        b.add(t, 30, type=_INSTANT, track=findings_track, name=f"finding {n}: {f.get('kind', '?')}",
              cat="finding", ends_flows=[n] if evs else [],
              args={"message": _s(f.get("message", "")), "steps": _s(f.get("steps", ""))})
    return b.serialize()


def _holding(b: _Builder, h: Holding, tr: int, at: Any, end_ts: int, clobber_at: dict[tuple[int, str, int], int],
             flows_at: dict[int, list[int]], flowed: set[int]) -> None:
    start = at(h.start_ev)
    end = at(h.end_ev) if h.end_ev >= 0 else end_ts
    page = f"{h.pfn:#x}" if isinstance(h.pfn, int) and not isinstance(h.pfn, bool) else str(h.pfn)
    args = {"context": _s(h.context), "kind": h.kind, "page": page, "slot": f"{h.type} #{h.idx}",
            "ended": "still held at the end of the trace" if h.open else h.how}
    if h.clobbers:
        args["mapped while held by"] = ", ".join(h.clobbers)
    name = ("CLOBBER " if h.clobbers else "") + f"{h.context} · page {page}"
    flows = flows_at.get(h.start_ev, [])
    if flows:
        flowed.add(h.start_ev)
    b.add(start, 10, type=_BEGIN, track=tr, name=name, cat="clobber" if h.clobbers else "kmap", flows=flows,
          args=args)
    if h.stale_from is not None:
        s_ev = clobber_at.get((h.stale_from, h.stale_by, h.idx))
        s_ts = max(start + 1, at(s_ev) if s_ev is not None else h.stale_from * STEP_NS)
        if s_ts < end:
            b.add(s_ts, -1, type=_END, track=tr)
            stale_pfn = f"{h.stale_pfn:#x}" if isinstance(h.stale_pfn, int) else str(h.stale_pfn)
            b.add(s_ts, 10, type=_BEGIN, track=tr, name=f"STALE {h.context}: now page {stale_pfn}", cat="stale",
                  args=dict(args, **{"stale by": _s(h.stale_by), "now page": stale_pfn}))
    b.add(end, -1, type=_END, track=tr)


def write_perfetto(path: str | Path, header: dict[str, Any], records: list[dict[str, Any]],
                   findings: list[dict[str, Any]] | None = None) -> None:
    """Write :func:`perfetto_trace` to ``path`` (one sentence on a bad path)."""
    from highmem.report.output import write_bytes

    write_bytes(path, perfetto_trace(header, records, findings), "trace file")

