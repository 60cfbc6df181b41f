"""``highmem check``'s outputs for CI: ``--expected-ok`` verdicts, ``--junit`` and ``--sarif`` files.

Verdicts.  Without ``--expected-ok`` a scenario passes when nothing was found (exit status 1
otherwise).  With it, a scenario passes when the kinds found equal its ``expect`` list, so a
library of buggy-on-purpose scenarios is itself a CI check; any other outcome is one line.

JUnit.  One ``testsuite`` per scenario, one ``testcase`` per finding kind expected or found
(``clean`` when neither).  A test case fails by the same rule as the verdict.

SARIF.  One rule per finding kind, one result per (scenario, kind): located at the operation of
the finding's last step, with the operations of its other steps as related locations and a
thread flow through all of them (see :mod:`highmem.report.locate`).
"""

from __future__ import annotations

import os
import re

from highmem.errors import HighmemError
from highmem.sim.explore import Exploration
from highmem.sim.findings import FINDING_KINDS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["check_output_target", "verdict", "junit_xml", "check_sarif", "kind_descriptions", "schedule_doc"]

INFORMATION_URI = "https://github.com/highmem/highmem"


def check_output_target(path: str, option: str) -> None:
    """Refuse ``option FILE`` before exploring when ``FILE`` cannot be written (one sentence).

    The file is opened for appending (created and removed again if it did not exist), which is the
    only test a root user's permissions and a read-only file system both answer truthfully.
    """
    # pathlib only here, when an output file is named: it brings urllib.parse, a few milliseconds of
    # every start-up otherwise.
    from pathlib import Path

    p = Path(path)
    if p.is_dir():
        raise HighmemError(f"{option} {p} is a directory: name a file to write")
    if not p.parent.is_dir():
        raise HighmemError(f"{option} {p} cannot be written: directory {p.parent} does not exist")
    existed = p.exists()
    if existed and not p.is_file():
        # A device or a pipe (/dev/null, a FIFO): opening it is not a test without effects (a
        # FIFO's reader would take this open for the writer and see an empty stream).
        if not os.access(p, os.W_OK):
            raise HighmemError(f"{option} {p} cannot be written: permission denied")
        return
    try:
        with open(p, "a", encoding="utf-8"):
            pass
    except OSError as e:
        raise HighmemError(f"{option} {p} cannot be written: {e.strerror or e}") from None
    if not existed:
        try:
            os.unlink(p)
        except OSError:
            pass


def schedule_doc(ex: Exploration, kind: str, config: list[str]) -> dict[str, Any]:
    """The schedule file of ``ex``'s ``kind`` finding (what ``check --out`` writes and ``--replay`` reads);
    ``config`` are the ``--config`` overrides the exploration ran with."""
    rep = ex.by_kind[kind]
    return {
        "scenario": ex.scenario.source or ex.scenario.name, "digest": ex.scenario.digest,
        "profile": ex.config.profile, "config": list(config), "strategy": ex.strategy, "seed": ex.seed,
        "schedule_index": rep.first_schedule, "steps": rep.steps,
        "finding": {"kind": kind, "message": rep.finding.message},
        "choices": [list(c) for c in rep.choices]}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def verdict(ex: Exploration, expected_ok: bool) -> str | None:
    """None when ``ex`` passes, else the one-line reason it fails."""
    found = set(ex.counts)
    name = ex.scenario.name
    if not expected_ok:
        if not found:
            return None
        return f"{name}: found " + ", ".join(f"{k} (in {ex.counts[k]} of {_plural(ex.schedules, 'schedule')})"
                                             for k in sorted(found))
    want = set(ex.scenario.expect)
    if found == want:
        return None
    parts = []
    missing = sorted(want - found)
    extra = sorted(found - want)
    if missing:
        parts.append(f"expected {', '.join(missing)} but no schedule of {ex.schedules} found "
                     + ("it" if len(missing) == 1 else "them"))
    if extra:
        parts.append("found " + ", ".join(f"{k} (in {ex.counts[k]} of {_plural(ex.schedules, 'schedule')})"
                                          for k in extra) + ", which it does not expect")
    return f"{name}: " + "; ".join(parts)


def _case_kinds(ex: Exploration) -> list[str]:
    kinds = sorted(set(ex.counts) | set(ex.scenario.expect))
    return kinds or ["clean"]


def junit_xml(exs: list[Exploration], expected_ok: bool) -> str:
    """The JUnit XML document of ``exs`` (deterministic: no timestamps, no durations)."""
    from xml.etree import ElementTree as ET  # only with --junit: not on every start-up

    root = ET.Element("testsuites", name="highmem check")
    total = failures = 0
    for ex in exs:
        suite = ET.SubElement(root, "testsuite", name=ex.scenario.name)
        props = ET.SubElement(suite, "properties")
        for k, v in (("profile", ex.config.profile), ("strategy", ex.strategy), ("seed", str(ex.seed)),
                     ("schedules", str(ex.schedules)), ("source", ex.scenario.source)):
            ET.SubElement(props, "property", name=k, value=v)
        n = f = 0
        for kind in _case_kinds(ex):
            n += 1
            case = ET.SubElement(suite, "testcase", classname=f"highmem.{ex.scenario.name}", name=kind)
            rep = ex.by_kind.get(kind)
            expected = kind in ex.scenario.expect
            found = rep is not None
            if kind == "clean" or (found and expected and expected_ok) or (not found and not expected_ok):
                continue
            f += 1
            if found:
                assert rep is not None
                msg = (f"{kind} found in {ex.counts[kind]} of {_plural(ex.schedules, 'schedule')}"
                       + (", and the scenario does not expect it" if expected_ok else ""))
                sched = ", ".join(f"{p}: {lab}" for p, lab in rep.choices) or "the default schedule"
                body = f"{rep.finding.message}\nschedule: {sched}\n"
                ET.SubElement(case, "failure", message=msg, type="unexpected" if expected_ok else "finding").text = body
            else:
                msg = f"{kind} is expected but no schedule of {ex.schedules} found it"
                ET.SubElement(case, "failure", message=msg, type="missing").text = msg + "\n"
        suite.set("tests", str(n))
        suite.set("failures", str(f))
        suite.set("errors", "0")
        suite.set("skipped", "0")
        total += n
        failures += f
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def kind_descriptions() -> dict[str, str]:
    """Finding kind -> its one-paragraph description, read from :mod:`highmem.sim.findings`'s table."""
    from highmem.sim import findings

    out: dict[str, str] = {}
    current = None
    for line in (findings.__doc__ or "").splitlines():
        m = re.match(r"^``([a-z-]+)``\s+(.*)$", line)
        if m:
            current = m.group(1)
            out[current] = m.group(2).strip()
        elif current and line.startswith(" ") and line.strip():
            out[current] += " " + line.strip()
        else:
            current = None
    return {k: out.get(k, k) for k in FINDING_KINDS}


def _sentence(text: str) -> str:
    text = text[0].upper() + text[1:] if text else text
    return text if text.endswith(".") else text + "."


def check_sarif(exs: list[Exploration], expected_ok: bool, *, exit_code: int, arguments: list[str],
                base_dir: str | None = None) -> Any:
    """The :class:`~highmem.report.sarif.SarifLog` of a check run."""
    from highmem import __version__
    from highmem.report.locate import locate_finding, scenario_path
    from highmem.report.sarif import Location, Result, Rule, SarifLog

    desc = kind_descriptions()
    log = SarifLog("highmem", __version__, information_uri=INFORMATION_URI, base_dir=base_dir,
                   rules=[Rule(k, _sentence(desc[k]), name="".join(w.title() for w in k.split("-")),
                               tags=("kmap", "highmem")) for k in FINDING_KINDS])
    for ex in exs:
        for kind, rep in ex.by_kind.items():
            sites = locate_finding(ex.scenario, ex.config, rep.choices, rep.finding)
            locs = [Location(s.path, line=s.line, logical=s.context, logical_kind="function",
                             message=(f"step {s.step}: " if s.step is not None else "") + f"{s.context}"
                             + (f" runs {s.op}" if s.op else "")) for s in sites]
            if not locs:
                path = scenario_path(ex.scenario) or ex.scenario.source
                locs = [Location(path)]
            sched = ", ".join(f"{p}: {lab}" for p, lab in rep.choices) or "the default schedule"
            props: dict[str, Any] = {
                "scenario": ex.scenario.name, "profile": ex.config.profile, "strategy": ex.strategy,
                "seed": ex.seed, "schedules": ex.schedules, "schedulesWithFinding": ex.counts[kind],
                "firstSchedule": rep.first_schedule, "schedule": sched, "steps": rep.finding.steps,
                "expected": kind in ex.scenario.expect,
            }
            res = Result(kind, f"{ex.scenario.name}: {rep.finding.message}", locations=[locs[-1]],
                         related=locs[:-1], flow=locs if len(locs) > 1 else [], properties=props,
                         fingerprints={"highmemFinding/v1": f"{ex.scenario.name}:{kind}"})
            if expected_ok and kind in ex.scenario.expect:
                res.suppressed = "the scenario expects this finding ([scenario] expect)"
            log.add(res)
    log.invocation(successful=exit_code in (0, 1), exit_code=exit_code, arguments=arguments)
    return log
