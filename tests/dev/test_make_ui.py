"""`make ui-build` builds the UI again only when something it is built from changed. Checked on a copy of
the Makefile beside a stand-in ui/ tree, so that no real source is touched and nothing is built."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
INPUTS = ("package.json", "package-lock.json", "next.config.mjs", "tsconfig.json")


def up_to_date(tree: Path) -> bool:
    """``make -q ui-build``: whether the UI would be built again."""
    done = subprocess.run(["make", "-q", "ui-build"], cwd=tree, capture_output=True, text=True, timeout=60)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode == 0


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the Makefile with a built stand-in UI: sources, lock, configuration, stamps."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    ui = tmp_path / "ui"
    (ui / "src" / "app").mkdir(parents=True)
    (ui / "src" / "app" / "page.tsx").write_text("export default function Page() { return null; }\n")
    (ui / "src" / "lib.ts").write_text("export const x = 1;\n")
    for name in INPUTS:
        (ui / name).write_text("{}\n")
    (ui / "node_modules").mkdir()
    (ui / "node_modules" / ".installed").touch()
    (ui / "out").mkdir()
    (ui / "out" / ".built").touch()
    now = time.time()  # the inputs a minute old, the stamps half a minute: an edit now is newer
    for path in [ui, *ui.rglob("*")]:
        age = 30 if path.name in (".built", ".installed") else 60
        os.utime(path, (now - age, now - age))
    assert up_to_date(tmp_path), "a UI built after its last change was out of date"
    return tmp_path


def test_an_edited_source_makes_the_ui_out_of_date(tree: Path) -> None:
    (tree / "ui" / "src" / "app" / "page.tsx").touch()
    assert not up_to_date(tree)


@pytest.mark.parametrize("name", INPUTS)
def test_a_changed_lock_or_build_configuration_makes_it_out_of_date(tree: Path, name: str) -> None:
    (tree / "ui" / name).touch()
    assert not up_to_date(tree)


def test_a_new_or_removed_source_makes_it_out_of_date(tree: Path) -> None:
    (tree / "ui" / "src" / "lib.ts").unlink()  # the directory's time changes, no remaining file's
    assert not up_to_date(tree)
    (tree / "ui" / "out" / ".built").touch()
    (tree / "ui" / "src" / "app" / "new.tsx").write_text("export const y = 2;\n")
    assert not up_to_date(tree)


def test_a_file_beside_the_sources_does_not(tree: Path) -> None:
    (tree / "ui" / "README.md").write_text("notes\n")
    assert up_to_date(tree)
