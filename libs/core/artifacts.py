"""Content-addressed artifact store: files that tools write, kept by the SHA-256 of their bytes.

Synchronous on purpose (plain file I/O); async callers wrap calls in ``asyncio.to_thread``.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from types import MappingProxyType

from planwright.core.errors import InvalidArtifactName

_SHA256 = re.compile(r"[0-9a-f]{64}")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")
_MAX_NAME_BYTES = 255
# Text formats a tool may write, by extension. No charset here: the content route adds "; charset=utf-8"
# to text/* types, and JSON, YAML, XML, TOML and SQL are UTF-8 text by their own definitions. The rule
# planner recognises file names by these extensions.
MEDIA_TYPES: Mapping[str, str] = MappingProxyType(
    {
        ".md": "text/markdown",
        ".markdown": "text/markdown",
        ".txt": "text/plain",
        ".text": "text/plain",
        ".log": "text/plain",
        ".ini": "text/plain",
        ".cfg": "text/plain",
        ".json": "application/json",
        ".csv": "text/csv",
        ".tsv": "text/tab-separated-values",
        ".html": "text/html",  # served sandboxed (CSP) and never sniffed: see the artifact content route
        ".htm": "text/html",
        ".css": "text/css",
        ".py": "text/x-python",
        ".sh": "text/x-shellscript",
        ".yaml": "application/yaml",
        ".yml": "application/yaml",
        ".xml": "application/xml",
        ".toml": "application/toml",
        ".sql": "application/sql",
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".ts": "text/x-typescript",
        ".rst": "text/x-rst",
    }
)


@dataclass(frozen=True)
class StoredArtifact:
    name: str
    sha256: str
    size: int
    media_type: str


def safe_artifact_name(name: str) -> str:
    """Return ``name`` (surrounding whitespace removed) if it is a plain file name, else raise.

    Raises ``InvalidArtifactName`` saying what to fix: empty names, paths of any kind (absolute,
    ``/`` or ``\\`` separators, ``..``), control characters, hidden names (leading ``.``) and names
    over 255 bytes.
    """
    clean = name.strip()
    if not clean:
        raise InvalidArtifactName("artifact name is empty: give a plain file name such as 'tools.md'")
    if clean.startswith(("/", "\\")) or _WINDOWS_DRIVE.match(clean):
        raise _invalid(clean, "is an absolute path: give a plain file name such as 'tools.md'")
    if ".." in re.split(r"[/\\]", clean):
        raise _invalid(clean, "points to a parent directory ('..'): give a plain file name")
    if "/" in clean or "\\" in clean:
        raise _invalid(clean, "contains a directory separator: give a plain file name, no '/' or '\\'")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in clean):
        raise _invalid(clean, "contains control characters (such as NUL or a newline): remove them")
    if clean.startswith("."):
        raise _invalid(clean, "starts with '.': hidden names are not allowed, remove the leading dot")
    size = len(clean.encode("utf-8"))
    if size > _MAX_NAME_BYTES:
        raise InvalidArtifactName(
            f"artifact name is {size} bytes long: shorten it to at most {_MAX_NAME_BYTES} bytes", name=clean
        )
    return clean


def _invalid(name: str, problem: str) -> InvalidArtifactName:
    return InvalidArtifactName(f"artifact name {name!r} {problem}", name=name)


def guess_media_type(name: str) -> str:
    """Media type from the file extension (``MEDIA_TYPES``, any case); ``application/octet-stream`` when
    unknown."""
    return MEDIA_TYPES.get(PurePosixPath(name).suffix.lower(), "application/octet-stream")


class ArtifactStore:
    """Bytes stored at ``root/sha256/<first two hex digits>/<hash>``; names live in the database.

    Writing the same bytes twice stores one file, so a repeated tool call is harmless.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, name: str, data: bytes, media_type: str | None = None) -> StoredArtifact:
        clean = safe_artifact_name(name)
        digest = hashlib.sha256(data).hexdigest()
        path = self.path_for(digest)
        # An existing file is trusted only if it still hashes right; otherwise it is repaired. A file
        # kept is touched: retention never deletes what was stored since its cutoff (``discard``).
        if not self.verify(digest) or not _touch(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(path, data)
        return StoredArtifact(
            name=clean, sha256=digest, size=len(data), media_type=media_type or guess_media_type(clean)
        )

    def path_for(self, sha256: str) -> Path:
        """Where the bytes with this hash live; raises ``InvalidArtifactName`` unless 64 lower-case hex."""
        if not _SHA256.fullmatch(sha256):
            raise InvalidArtifactName(
                f"{sha256!r} is not a SHA-256 digest: expected 64 lower-case hex characters", sha256=sha256
            )
        return self.root / "sha256" / sha256[:2] / sha256

    def read(self, sha256: str) -> bytes:
        """The stored bytes; ``FileNotFoundError`` when nothing is stored under this hash."""
        return self.path_for(sha256).read_bytes()

    def verify(self, sha256: str) -> bool:
        """True when the file for ``sha256`` exists and its bytes hash to it."""
        digest = hashlib.sha256()
        try:
            with self.path_for(sha256).open("rb") as file:
                for chunk in iter(lambda: file.read(1 << 20), b""):
                    digest.update(chunk)
        except FileNotFoundError:
            return False
        return digest.hexdigest() == sha256

    def discardable(self, sha256: str, stored_before: datetime) -> int | None:
        """The size of the file for ``sha256`` if ``discard`` would delete it now; else None."""
        try:
            stat = self.path_for(sha256).stat()
        except FileNotFoundError:
            return None
        return stat.st_size if stat.st_mtime < stored_before.timestamp() else None

    def discard(self, sha256: str, stored_before: datetime) -> int | None:
        """Delete the file for ``sha256`` unless it was stored (``put``) at or after ``stored_before``;
        returns the bytes freed, or None when nothing was deleted.

        The file is first renamed aside, then its time looked at: a ``put`` of the same bytes either
        touched it before (it is put back) or finds it gone and writes it anew. The caller has made
        sure no artifacts row names the hash."""
        path = self.path_for(sha256)
        aside = path.with_name(f".discard-{uuid.uuid4().hex}")
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return None
        stat = aside.stat()
        if stat.st_mtime >= stored_before.timestamp():
            os.replace(aside, path)  # stored again lately (the same bytes, whichever copy wins)
            return None
        aside.unlink()  # (its <2 hex> directory stays: a put may be about to write into it)
        return stat.st_size


def _touch(path: Path) -> bool:
    """Mark the file as stored now; False if it is gone (retention took it meanwhile)."""
    try:
        os.utime(path)
    except FileNotFoundError:
        return False
    return True


def _write_atomically(path: Path, data: bytes) -> None:
    # A temp file in the same directory, then rename: readers see the whole file or none of it.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        # mkstemp creates 0600; the API process may run as another user sharing the volume.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
