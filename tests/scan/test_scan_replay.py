"""Every corpus finding replayed on the model gives the corresponding dynamic finding."""

from __future__ import annotations

from pathlib import Path

import pytest

from highmem.scan import scan_paths
from highmem.scan.replay import expected, has_replay, scenario_text

CORPUS = Path(__file__).parent / "corpus"
FINDINGS = [f for f in scan_paths([str(CORPUS)]).findings if f.severity == "warning"]


def _kinds(text: str, name: str) -> tuple[set[str], str]:
    from highmem.scenarios import load_toml_text
    from highmem.sim.explore import explore

    sc = load_toml_text(text, name)
    ex = explore(sc, sc.config(), strategy="pct", schedules=10, seed=0, do_shrink=False)
    return {f.kind for f in ex.findings}, sc.config().profile


@pytest.mark.parametrize("index", range(len(FINDINGS)))
def test_replay_corpus_finding_gives_dynamic_finding(index: int) -> None:
    """The scenario of a corpus warning makes `highmem check` report the rule's dynamic twin."""
    f = FINDINGS[index]
    text = scenario_text(f, index)
    if not has_replay(f):
        assert text is None
        return
    assert text is not None
    kinds, profile = _kinds(text, f"{f.rule}-{index}.toml")
    assert set(expected(f, profile)) <= kinds, f"{f.path}:{f.line} {f.rule}"


def test_replay_covers_every_corpus_finding() -> None:
    """Every corpus warning has a replay, the three that deadlock included."""
    assert [(Path(f.path).name, f.line) for f in FINDINGS if not has_replay(f)] == []
    assert sorted((Path(f.path).name, f.line) for f in FINDINGS if expected(f) == ["deadlock"]) == [
        ("kmap_leak_bad.c", 24), ("sleep_in_atomic_bad.c", 20), ("wrong_unmap_bad.c", 18)]
