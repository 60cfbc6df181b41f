"""SARIF 2.1.0 logs, built generically: a tool, its rules, and results with locations.

Both ``highmem check --sarif`` (findings located in scenario files) and ``highmem scan --sarif``
(findings located in kernel C) build their logs with :class:`SarifLog`; neither knows the JSON
shape, and this module knows nothing of either.  The output validates against the official OASIS
schema (``tests/data/sarif-schema-2.1.0.json``), which the test-suite checks.

Typical use::

    log = SarifLog("highmem", __version__, rules=[Rule("stale-access", "Access through a reused slot")])
    log.add(Result("stale-access", "task A read page 0x1f through KM_USER0 after ...",
                   locations=[Location("scenarios/x.toml", line=12)],
                   related=[Location("scenarios/x.toml", line=7, message="the slot was remapped here")]))
    log.write("out.sarif")

Paths are given as the tool knows them; :meth:`SarifLog.location_uri` makes them relative to a
base directory (``%SRCROOT%``) when they lie under it, so code-scanning services can match them to
the repository, and absolute ``file://`` URIs otherwise.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from highmem._record import field, record

__all__ = ["SARIF_VERSION", "SARIF_SCHEMA_URI", "LEVELS", "Rule", "Location", "Result", "SarifLog", "results_by_rule"]

SARIF_VERSION = "2.1.0"
#: The ``$schema`` a log names (the OASIS TC's published schema of 2.1.0).
SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
#: A result's or rule's ``level``, weakest first.
LEVELS = ("none", "note", "warning", "error")
#: The ``uriBaseId`` of paths relative to the directory the log was made for.
SRCROOT = "SRCROOT"


def _check_level(level: str | None, what: str) -> None:
    if level is not None and level not in LEVELS:
        raise ValueError(f"{what} level {level!r} is not a SARIF level: use one of {', '.join(LEVELS)}")


@record(frozen=True)
class Rule:
    """What a tool checks (``reportingDescriptor``): ``id`` is what results name in ``rule_id``.

    ``short`` is one sentence; ``full`` may explain; ``help_text`` says how to fix it.
    """

    id: str
    short: str
    full: str = ""
    name: str = ""
    help_text: str = ""
    help_uri: str = ""
    level: str = "error"
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a SARIF rule needs a non-empty id")
        _check_level(self.level, f"rule {self.id}")

    def to_dict(self) -> dict[str, Any]:
        """The ``reportingDescriptor`` object."""
        d: dict[str, Any] = {"id": self.id, "shortDescription": {"text": self.short}}
        if self.name:
            d["name"] = self.name
        if self.full:
            d["fullDescription"] = {"text": self.full}
        if self.help_text:
            d["help"] = {"text": self.help_text}
        if self.help_uri:
            d["helpUri"] = self.help_uri
        d["defaultConfiguration"] = {"level": self.level}
        if self.tags:
            d["properties"] = {"tags": list(self.tags)}
        return d


@record(frozen=True)
class Location:
    """A place in a file: ``path`` (as the tool knows it), 1-based ``line`` and ``column``.

    ``message`` says what happened there (used for related locations and flow steps);
    ``logical`` names the enclosing function or object (a ``logicalLocation``), e.g. a C
    function for ``scan`` or a scenario context for ``check``.
    """

    path: str
    line: int | None = None
    column: int | None = None
    end_line: int | None = None
    end_column: int | None = None
    message: str = ""
    snippet: str = ""
    logical: str = ""
    logical_kind: str = ""

    def __post_init__(self) -> None:
        for name in ("line", "column", "end_line", "end_column"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ValueError(f"location {self.path}: {name} {v} is invalid: SARIF lines and columns start at 1")
        if self.line is None and (self.column is not None or self.end_line is not None):
            raise ValueError(f"location {self.path}: a column or end line needs a line")


@record
class Result:
    """One finding: which rule, what message, where (``locations``, the primary place first),
    the other places involved (``related``), and optionally the order things happened in
    (``flow``, one thread flow of locations, earliest first).  ``suppressed``, when not empty,
    is the justification of an in-source suppression: the source declares the result expected."""

    rule_id: str
    message: str
    locations: list[Location] = field(default_factory=list)
    related: list[Location] = field(default_factory=list)
    flow: list[Location] = field(default_factory=list)
    level: str | None = None
    fingerprints: dict[str, str] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    suppressed: str = ""

    def __post_init__(self) -> None:
        _check_level(self.level, f"result of {self.rule_id}")


class SarifLog:
    """A SARIF log of one run of one tool.

    ``rules`` may be given up front or added with :meth:`add_rule`; every result must name a
    known rule (a result of an unknown rule is a bug of the caller: :class:`ValueError`).
    ``base_dir`` is the directory paths are made relative to (default: the current one).
    """

    def __init__(self, tool: str, version: str, *, information_uri: str = "", rules: Iterable[Rule] = (),
                 base_dir: str | os.PathLike[str] | None = None) -> None:
        self.tool = tool
        self.version = version
        self.information_uri = information_uri
        self.base_dir = Path(base_dir if base_dir is not None else os.getcwd()).resolve()
        self.rules: dict[str, Rule] = {}
        self.results: list[Result] = []
        self.properties: dict[str, Any] = {}
        self._invocation: dict[str, Any] | None = None
        for r in rules:
            self.add_rule(r)

    def add_rule(self, rule: Rule) -> None:
        """Declare ``rule``; declaring the same id twice with another description is an error."""
        old = self.rules.get(rule.id)
        if old is not None and old != rule:
            raise ValueError(f"SARIF rule {rule.id} is declared twice with different descriptions")
        self.rules[rule.id] = rule

    def add(self, result: Result) -> None:
        """Append ``result`` (its rule must be declared)."""
        if result.rule_id not in self.rules:
            raise ValueError(f"SARIF result names rule {result.rule_id!r}, which was never declared")
        self.results.append(result)

    def invocation(self, *, successful: bool, exit_code: int | None = None,
                   arguments: Iterable[str] = ()) -> None:
        """Record how the tool ran (``executionSuccessful`` is false when it could not finish)."""
        inv: dict[str, Any] = {"executionSuccessful": successful}
        if exit_code is not None:
            inv["exitCode"] = exit_code
        args = list(arguments)
        if args:
            inv["arguments"] = args
        self._invocation = inv

    def location_uri(self, path: str) -> tuple[str, str | None]:
        """``(uri, uriBaseId)`` of ``path``: relative to ``base_dir`` under it, else a ``file://`` URI.

        A path that is already a URI (``scheme://...``) is kept as it is.
        """
        if "://" in path:
            return path, None
        p = Path(path)
        full = (p if p.is_absolute() else self.base_dir / p).resolve()
        try:
            rel = full.relative_to(self.base_dir)
        except ValueError:
            return full.as_uri(), None
        return quote(str(PurePosixPath(*rel.parts))), SRCROOT

    def _physical(self, loc: Location) -> dict[str, Any]:
        uri, base = self.location_uri(loc.path)
        art: dict[str, Any] = {"uri": uri}
        if base is not None:
            art["uriBaseId"] = base
        d: dict[str, Any] = {"artifactLocation": art}
        if loc.line is not None:
            region: dict[str, Any] = {"startLine": loc.line}
            if loc.column is not None:
                region["startColumn"] = loc.column
            if loc.end_line is not None:
                region["endLine"] = loc.end_line
            if loc.end_column is not None:
                region["endColumn"] = loc.end_column
            if loc.snippet:
                region["snippet"] = {"text": loc.snippet}
            d["region"] = region
        return d

    def _location(self, loc: Location, ident: int | None = None) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if ident is not None:
            d["id"] = ident
        d["physicalLocation"] = self._physical(loc)
        if loc.logical:
            ll: dict[str, Any] = {"fullyQualifiedName": loc.logical}
            if loc.logical_kind:
                ll["kind"] = loc.logical_kind
            d["logicalLocations"] = [ll]
        if loc.message:
            d["message"] = {"text": loc.message}
        return d

    def _result(self, r: Result) -> dict[str, Any]:
        d: dict[str, Any] = {"ruleId": r.rule_id, "ruleIndex": list(self.rules).index(r.rule_id),
                             "message": {"text": r.message}}
        if r.level is not None:
            d["level"] = r.level
        if r.locations:
            d["locations"] = [self._location(loc) for loc in r.locations]
        if r.related:
            d["relatedLocations"] = [self._location(loc, i + 1) for i, loc in enumerate(r.related)]
        if r.flow:
            d["codeFlows"] = [{"threadFlows": [{"locations": [
                {"location": self._location(loc), "executionOrder": i + 1} for i, loc in enumerate(r.flow)]}]}]
        if r.suppressed:
            d["suppressions"] = [{"kind": "inSource", "status": "accepted", "justification": r.suppressed}]
        if r.fingerprints:
            d["partialFingerprints"] = dict(r.fingerprints)
        if r.properties:
            d["properties"] = dict(r.properties)
        return d

    def to_dict(self) -> dict[str, Any]:
        """The whole log as JSON-ready objects."""
        driver: dict[str, Any] = {"name": self.tool, "version": self.version, "semanticVersion": self.version}
        if self.information_uri:
            driver["informationUri"] = self.information_uri
        driver["rules"] = [r.to_dict() for r in self.rules.values()]
        run: dict[str, Any] = {
            "tool": {"driver": driver},
            "originalUriBaseIds": {SRCROOT: {"uri": self.base_dir.as_uri() + "/"}},
        }
        if self._invocation is not None:
            run["invocations"] = [self._invocation]
        run["results"] = [self._result(r) for r in self.results]
        run["columnKind"] = "unicodeCodePoints"
        if self.properties:
            run["properties"] = dict(self.properties)
        return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}

    def dumps(self) -> str:
        """The log as indented JSON text, ending with a newline."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the log to ``path`` (UTF-8)."""
        Path(path).write_text(self.dumps(), encoding="utf-8")


def results_by_rule(log: SarifLog) -> Mapping[str, int]:
    """How many results each declared rule has (zero included), in declaration order."""
    counts = dict.fromkeys(log.rules, 0)
    for r in log.results:
        counts[r.rule_id] += 1
    return counts
