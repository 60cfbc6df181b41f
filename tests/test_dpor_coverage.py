"""DPOR finds every finding kind plain bounded exhaustive search finds, with far fewer schedules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from highmem.scenarios import builtin_names, load_builtin, load_toml_text
from highmem.scenarios.model import Scenario
from highmem.sim.explore import explore

#: Schedules plain exhaustive search may run per scenario (several built-ins exceed it: the
#: comparison is then against what it found within the limit) and what DPOR may run.
PLAIN_LIMIT = 1500
DPOR_LIMIT = 4000
#: (plain, DPOR) limits where neither search ends within the defaults (bounce-io takes 15,750 steps a
#: schedule): what they find is found early, the rest only costs CI time.
SHORT = {"bounce-io": (2, 2), "pkmap-exhaustion": (300, 900), "bounce-read-wrong-slot": (500, 1500)}


def _kinds(sc: Scenario, strategy: str, limit: int) -> tuple[set[str], bool, int]:
    ex = explore(sc, sc.config(), strategy=strategy, schedules=limit, do_shrink=False)
    return set(ex.counts), ex.exhausted, ex.schedules


def _corpus() -> list[tuple[str, str]]:
    from highmem.scan import scan_paths
    from highmem.scan.replay import scenario_text

    corpus = Path(__file__).parent / "scan" / "corpus"
    out = []
    warnings = [f for f in scan_paths([str(corpus)]).findings if f.severity == "warning"]
    for i, f in enumerate(warnings):
        text = scenario_text(f, i)
        if text is not None:
            out.append((f"{Path(f.path).name}:{f.line}", text))
    return out


@pytest.mark.parametrize("name", builtin_names())
def test_dpor_builtin_finds_what_exhaustive_finds(name: str) -> None:
    """On each built-in, DPOR reports every kind plain exhaustive search reports, in no more schedules when it
    exhausts."""
    sc = load_builtin(name)
    plain_limit, dpor_limit = SHORT.get(name, (PLAIN_LIMIT, DPOR_LIMIT))
    plain, plain_all, plain_n = _kinds(sc, "exhaustive", plain_limit)
    dpor, dpor_all, dpor_n = _kinds(sc, "dpor", dpor_limit)
    assert plain <= dpor, f"{name}: DPOR missed {sorted(plain - dpor)}"
    if plain_all and dpor_all:
        assert dpor_n <= plain_n


def test_dpor_corpus_replays_find_what_exhaustive_finds() -> None:
    """On the scenario of every scan-corpus warning, DPOR reports every kind plain exhaustive search reports."""
    cases = _corpus()
    assert len(cases) >= 10
    for where, text in cases:
        sc = load_toml_text(text, where.replace(":", "-") + ".toml")
        plain, _, _ = _kinds(sc, "exhaustive", 400)
        dpor, _, _ = _kinds(sc, "dpor", 1000)
        assert plain <= dpor, f"{where}: DPOR missed {sorted(plain - dpor)}"


def _storm(cpus: int) -> Scenario:
    """copy-highpage-smp-storm cut down to its first ``cpus`` CPUs."""
    import highmem.scenarios

    src = (Path(highmem.scenarios.__file__).parent / "builtin" / "copy-highpage-smp-storm.toml").read_text()
    blocks = src.split("\n\n")
    cpu_of = re.compile(r'(?:copier|storm)([0-9])"|page = "to([0-9])"')
    kept = [b for b in blocks if all(int(m.group(1) or m.group(2)) < cpus for m in cpu_of.finditer(b))]
    out = "\n\n".join(kept).replace("cpus = 4", f"cpus = {cpus}")
    out = re.sub(r'(to|irq)([0-9]) = .*\n', lambda m: m.group(0) if int(m.group(2)) < cpus else "", out)
    return load_toml_text(out, f"storm{cpus}.toml")


def test_dpor_storm_exhausts_with_tenfold_fewer_schedules() -> None:
    """Two CPUs copying pages under an interrupt storm: DPOR covers every class within the bounds, while plain
    exhaustive search has not finished after ten times as many schedules."""
    sc = _storm(2)
    assert sc.config().cpus == 2
    ex = explore(sc, sc.config(), strategy="dpor", schedules=5000, do_shrink=False)
    assert ex.exhausted and not ex.counts
    plain = explore(sc, sc.config(), strategy="exhaustive", schedules=10 * ex.schedules, do_shrink=False)
    assert not plain.exhausted and plain.schedules == 10 * ex.schedules


def test_dpor_interrupt_bound_zero_injects_nothing() -> None:
    """With --max-interrupts 0 DPOR never brings an optional interrupt: the collision needs one and is not found."""
    sc = load_builtin("km-irq-collision-2005")
    ex = explore(sc, sc.config(), strategy="dpor", schedules=100, max_interrupts=0, do_shrink=False)
    assert ex.exhausted and ex.schedules == 1 and not ex.counts
    ex1 = explore(sc, sc.config(), strategy="dpor", schedules=100, max_interrupts=1, do_shrink=False)
    assert ex1.exhausted and set(ex1.counts) == {"slot-in-use"}


def test_dpor_exploration_is_deterministic() -> None:
    """The same scenario explored twice with DPOR gives the same JSON, schedule counts and findings included."""
    sc = load_builtin("kmap-high-ipi-deadlock-2024")
    a = explore(sc, sc.config(), strategy="dpor", schedules=300)
    b = explore(sc, sc.config(), strategy="dpor", schedules=300)
    assert a.to_dict() == b.to_dict()
    assert a.to_dict()["dpor"]["redundant"] == b.dpor["redundant"]  # type: ignore[index]


CASES = sorted((Path(__file__).parent / "data" / "dpor").glob("*.toml"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_dpor_red_team_case_finds_what_exhaustive_finds(path: Path) -> None:
    """Each scenario that once made DPOR miss a kind: a BUG that ends the run before another CPU ran, the order in
    which an idle CPU takes its tasks, a run with no way on within the bounds, a load or store into a page table
    through the direct map, a store into a page directory entry that a TLB fill walks through, an interrupt
    possible only while a task other than the last one to exit still runs, a request queued on one CPU before a cli on
    the device's CPU that would keep its line out."""
    sc = load_toml_text(path.read_text(), path.name)
    plain, _, _ = _kinds(sc, "exhaustive", 3000)
    dpor, dpor_all, _ = _kinds(sc, "dpor", 5000)
    assert plain and plain <= dpor, f"{path.name}: DPOR missed {sorted(plain - dpor)}"
    assert dpor_all
