"""The public library API: lazy imports, __all__, replay and trace helpers, REPL and notebook displays."""

from __future__ import annotations

import subprocess
import sys

import pytest

import highmem
import highmem.report


def test_import_highmem_imports_nothing_else() -> None:
    """`import highmem` loads no other highmem module but its lazy-export helper, and neither rich nor typing."""
    code = ("import sys; before = set(sys.modules); import highmem; "
            "print(sorted(m for m in set(sys.modules) - before "
            "if m not in ('highmem', 'highmem._lazy', '__future__')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "[]\n"


@pytest.mark.parametrize("pkg", [highmem, highmem.report])
def test_all_names_resolve(pkg: object) -> None:
    """Every name of __all__ resolves, and __all__ lists exactly the lazy exports."""
    names = [n for n in pkg.__all__ if n != "__version__"]  # type: ignore[attr-defined]
    assert sorted(names) == sorted(pkg._EXPORTS)  # type: ignore[attr-defined]
    for n in names:
        assert getattr(pkg, n) is not None, n


def test_unknown_name_is_attribute_error() -> None:
    """An unknown name raises AttributeError naming it."""
    with pytest.raises(AttributeError, match="^module 'highmem' has no attribute 'nope'$"):
        highmem.nope  # noqa: B018


@pytest.fixture(scope="module")
def sleeping() -> highmem.Exploration:
    """sleep-holding-kmap explored with 10 PCT schedules."""
    sc = highmem.load_builtin("sleep-holding-kmap")
    return highmem.explore(sc, sc.config(), strategy="pct", schedules=10, seed=0)


def test_repr_is_one_readable_line(sleeping: highmem.Exploration) -> None:
    """repr() of an exploration is one line with the scenario, profile, schedules and kinds found."""
    assert repr(sleeping) == ("<Exploration sleep-holding-kmap on linux-2.4: pct, 10 schedules, 90 steps; found "
                              "data-mismatch x5, sleep-in-atomic x5, stale-access x5>")


def test_repr_html_shows_summary_findings_and_timeline(sleeping: highmem.Exploration) -> None:
    """_repr_html_ of an exploration has the summary, a card per kind and the timeline inline."""
    h = sleeping._repr_html_()
    assert h.startswith("<div class='highmem-exploration'><table>")
    assert h.count("class='highmem-finding'") == 3
    assert "<iframe srcdoc=" in h and "&lt;canvas" in h
    card = sleeping.findings[0]._repr_html_()
    assert card.startswith("<div class='highmem-finding'><b style='color:#b00'>sleep-in-atomic</b>: holder ")


def test_replay_reproduces_the_kind(sleeping: highmem.Exploration) -> None:
    """replay() runs a kind's shrunk schedule again and finds that kind."""
    assert "stale-access" in [f.kind for f in highmem.replay(sleeping, "stale-access").findings]
    with pytest.raises(highmem.HighmemError, match="^scenario sleep-holding-kmap has no deadlock finding: it found "):
        highmem.replay(sleeping, "deadlock")


def test_record_trace_renders(sleeping: highmem.Exploration) -> None:
    """record_trace() gives a header and records that render_html draws, first finding included."""
    header, records = highmem.record_trace(sleeping)
    assert header["scenario"] == "sleep-holding-kmap" and header["findings"][0]["kind"] == "sleep-in-atomic"
    assert records and all("step" in r for r in records)
    assert highmem.render_html(header, records).startswith("<!DOCTYPE html>")


def test_library_doc_runs_and_prints_what_it_says(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/library.md's python blocks run in order, and the one followed by 'prints' prints that text."""
    import contextlib
    import io
    import re
    from pathlib import Path

    monkeypatch.chdir(str(tmp_path))
    text = (Path(__file__).resolve().parents[1] / "docs" / "library.md").read_text(encoding="utf-8")
    parts = re.findall(r"```python\n(.*?)```(\s*prints\s*```text\n(.*?)```)?", text, re.S)
    assert len(parts) >= 3
    env: dict[str, object] = {}
    for code, _, shown in parts:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, "docs/library.md", "exec"), env)
        if shown:
            assert out.getvalue() == shown
