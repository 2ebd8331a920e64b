import hashlib
import os
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planwright.core.artifacts import (
    MEDIA_TYPES,
    ArtifactStore,
    StoredArtifact,
    guess_media_type,
    safe_artifact_name,
)
from planwright.core.errors import InvalidArtifactName
from planwright.core.tools_builtin import MEDIA_TYPE_PATTERN


def all_files(root):
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_put_then_read_round_trips_and_reports_metadata(tmp_path):
    store = ArtifactStore(tmp_path / "store")
    data = b"# Tools\n\nhello\n"
    stored = store.put("tools.md", data)
    digest = hashlib.sha256(data).hexdigest()
    assert stored == StoredArtifact(
        name="tools.md", sha256=digest, size=len(data), media_type="text/markdown"
    )
    assert store.read(digest) == data
    assert store.path_for(digest) == tmp_path / "store" / "sha256" / digest[:2] / digest


def test_root_is_created_lazily(tmp_path):
    root = tmp_path / "not-yet"
    store = ArtifactStore(root)
    assert not root.exists()
    store.put("a.txt", b"x")
    assert root.is_dir()


def test_same_bytes_under_two_names_are_stored_once(tmp_path):
    store = ArtifactStore(tmp_path)
    first = store.put("a.txt", b"same bytes")
    second = store.put("b.md", b"same bytes")
    assert first.sha256 == second.sha256
    assert (first.name, second.name) == ("a.txt", "b.md")
    assert (first.media_type, second.media_type) == ("text/plain", "text/markdown")
    assert all_files(tmp_path) == [store.path_for(first.sha256)]


def test_explicit_media_type_wins_over_the_guess(tmp_path):
    stored = ArtifactStore(tmp_path).put("notes.md", b"x", media_type="text/plain")
    assert stored.media_type == "text/plain"


def test_empty_content_is_a_valid_artifact(tmp_path):
    store = ArtifactStore(tmp_path)
    stored = store.put("empty.txt", b"")
    assert stored.size == 0
    assert stored.sha256 == hashlib.sha256(b"").hexdigest()
    assert store.read(stored.sha256) == b""


def test_write_leaves_no_temporary_files(tmp_path):
    store = ArtifactStore(tmp_path)
    for n in range(5):
        store.put(f"f{n}.txt", f"content {n}".encode())
    names = [p.name for p in all_files(tmp_path)]
    assert len(names) == 5
    assert all(len(name) == 64 for name in names)


def test_failed_write_cleans_up_its_temporary_file(tmp_path, monkeypatch):
    store = ArtifactStore(tmp_path)

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        store.put("a.txt", b"data")
    assert all_files(tmp_path) == []


def test_stored_file_is_readable_by_others(tmp_path):
    stored = ArtifactStore(tmp_path).put("a.txt", b"data")
    assert ArtifactStore(tmp_path).path_for(stored.sha256).stat().st_mode & 0o777 == 0o644


def test_verify_detects_tampering_and_put_repairs_it(tmp_path):
    store = ArtifactStore(tmp_path)
    stored = store.put("a.txt", b"original")
    assert store.verify(stored.sha256)
    store.path_for(stored.sha256).write_bytes(b"tampered")
    assert not store.verify(stored.sha256)
    store.put("a.txt", b"original")
    assert store.verify(stored.sha256)
    assert store.read(stored.sha256) == b"original"


def test_verify_and_read_of_a_missing_hash(tmp_path):
    store = ArtifactStore(tmp_path)
    missing = "0" * 64
    assert not store.verify(missing)
    with pytest.raises(FileNotFoundError):
        store.read(missing)


@pytest.mark.parametrize(
    ("name", "fix"),
    [
        ("../x", "parent directory"),
        ("a/../../x", "parent directory"),
        ("..", "parent directory"),
        ("/etc/passwd", "absolute path"),
        ("\\\\server\\share", "absolute path"),
        ("C:\\Windows\\win.ini", "absolute path"),
        ("a\\b", "directory separator"),
        ("a/b", "directory separator"),
        ("x\x00y", "control characters"),
        ("line\nbreak", "control characters"),
        (".", "starts with '.'"),
        (".hidden", "starts with '.'"),
        ("x" * 300, "at most 255 bytes"),
        ("é" * 128, "at most 255 bytes"),
        ("", "empty"),
        ("   ", "empty"),
    ],
)
def test_unsafe_names_are_rejected_saying_what_to_fix(name, fix):
    with pytest.raises(InvalidArtifactName, match="(?s)" + fix.replace(".", r"\.")) as caught:
        safe_artifact_name(name)
    assert caught.value.code == "invalid_artifact_name"


def test_unsafe_name_is_rejected_by_put_before_anything_is_written(tmp_path):
    with pytest.raises(InvalidArtifactName):
        ArtifactStore(tmp_path).put("../escape.txt", b"x")
    assert all_files(tmp_path) == []


@pytest.mark.parametrize("name", ["tools.md", "report 2024.csv", "a..b.txt", "x" * 255, "résumé.txt"])
def test_plain_names_are_accepted(name):
    assert safe_artifact_name(name) == name


def test_surrounding_whitespace_is_removed():
    assert safe_artifact_name("  tools.md \t") == "tools.md"


@given(st.text(max_size=300))
def test_any_accepted_name_stays_directly_inside_its_directory(tmp_path_factory, name):
    root = tmp_path_factory.getbasetemp().resolve()
    try:
        clean = safe_artifact_name(name)
    except InvalidArtifactName:
        return
    assert (root / clean).resolve().parent == root
    assert len(clean.encode()) <= 255


@pytest.mark.parametrize(
    "digest",
    ["", "abc", "0" * 63, "0" * 65, "A" * 64, "g" * 64, "../" + "0" * 61, "0" * 62 + "/x", " " + "0" * 63],
)
def test_path_for_rejects_anything_but_64_lowercase_hex(tmp_path, digest):
    with pytest.raises(InvalidArtifactName, match="64 lower-case hex"):
        ArtifactStore(tmp_path).path_for(digest)


@given(st.from_regex(r"[0-9a-f]{64}", fullmatch=True))
def test_path_for_is_always_inside_the_root(tmp_path_factory, digest):
    root = tmp_path_factory.getbasetemp().resolve()
    path = ArtifactStore(root).path_for(digest).resolve()
    assert path.is_relative_to(root / "sha256")
    assert path.name == digest


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("a.md", "text/markdown"),
        ("a.txt", "text/plain"),
        ("a.json", "application/json"),
        ("a.csv", "text/csv"),
        ("a.html", "text/html"),
        ("A.MD", "text/markdown"),
        ("notes.markdown", "text/markdown"),
        ("run.log", "text/plain"),
        ("page.htm", "text/html"),
        ("data.tsv", "text/tab-separated-values"),
        ("reverse.py", "text/x-python"),
        ("deploy.sh", "text/x-shellscript"),
        ("config.yaml", "application/yaml"),
        ("config.YML", "application/yaml"),
        ("feed.xml", "application/xml"),
        ("pyproject.toml", "application/toml"),
        ("schema.sql", "application/sql"),
        ("app.js", "text/javascript"),
        ("index.ts", "text/x-typescript"),
        ("README.rst", "text/x-rst"),
        ("einführung.md", "text/markdown"),
        ("archive.tar.gz", "application/octet-stream"),
        ("a.bin", "application/octet-stream"),
        ("image.svg", "application/octet-stream"),
        ("noext", "application/octet-stream"),
        ("trailing.", "application/octet-stream"),
    ],
)
def test_guess_media_type(name, media_type):
    assert guess_media_type(name) == media_type


def test_a_python_artifact_is_stored_as_python(tmp_path):
    assert ArtifactStore(tmp_path).put("reverse.py", b"def reverse(s): ...\n").media_type == "text/x-python"


@pytest.mark.parametrize("media_type", sorted(set(MEDIA_TYPES.values())))
def test_every_guessed_type_is_a_bare_valid_media_type(media_type):
    # No parameters: the content route adds "; charset=utf-8" to text/* itself.
    assert re.fullmatch(MEDIA_TYPE_PATTERN, media_type)
    assert ";" not in media_type
