"""`highmem scan --patch`: what a patch introduces and fixes, in a copy of the tree."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from highmem.cli import main

CORPUS = Path(__file__).parent / "corpus"

SWAP = """\
--- a/fs/copy.c
+++ b/fs/copy.c
@@ -8,6 +8,6 @@ static void copy_block(struct page *dpage, struct page *spage, size_t len)
 \tchar *dst = kmap_local_page(dpage);
{blank}
 \tmemcpy(dst, src, len);
-\tkunmap_local({first});
 \tkunmap_local({second});
+\tkunmap_local({first});
 }}
"""


def _tree(tmp_path: Path, fixture: str) -> Path:
    (tmp_path / "tree" / "fs").mkdir(parents=True)
    shutil.copyfile(CORPUS / fixture, tmp_path / "tree" / "fs" / "copy.c")
    return tmp_path / "tree"


def test_patch_introducing_unmap_order_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Swapping correct unmaps into map order introduces one unmap-order; the tree is untouched."""
    tree = _tree(tmp_path, "unmap_order_ok.c")
    patch = tmp_path / "p.patch"
    patch.write_text(SWAP.format(first="dst", second="src", blank=" "))
    before = (tree / "fs" / "copy.c").read_bytes()
    assert main(["scan", "--patch", str(patch), str(tree)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("fs/copy.c:11:2: warning: kunmap_local(src) releases 'src'")
    assert out[-1] == "highmem: the patch introduces 1 unmap-order in copy_block(), fixes 0"
    assert (tree / "fs" / "copy.c").read_bytes() == before


def test_patch_fixing_unmap_order_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The reverse patch fixes the finding and introduces nothing: exit 0."""
    tree = _tree(tmp_path, "unmap_order_bad.c")
    patch = tmp_path / "p.patch"
    patch.write_text(SWAP.format(first="src", second="dst", blank=" "))
    assert main(["scan", "--patch", str(patch), str(tree)]) == 0
    assert capsys.readouterr().out == "highmem: the patch introduces 0, fixes 1 unmap-order in copy_block()\n"


def test_patch_that_does_not_apply_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A patch whose context is not in the tree is one sentence, exit 2, and nothing is written."""
    tree = _tree(tmp_path, "double_unmap_ok.c")
    patch = tmp_path / "p.patch"
    patch.write_text(SWAP.format(first="dst", second="src", blank=" "))
    assert main(["scan", "--patch", str(patch), str(tree)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"highmem: patch {str(patch)!r} does not apply to {str(tree)!r}: ")
    assert err.count("\n") == 1
    assert sorted(p.name for p in (tree / "fs").iterdir()) == ["copy.c"]
