"""``planwright prune`` as a user runs it: the server's settings (here: embedded mode's data directory),
a dry run that changes nothing, then the prune, each printing rows per table and files; bad durations
refused."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from planwright.core.artifacts import ArtifactStore
from planwright.core.db.engine import make_engine
from planwright.core.db.migrate import upgrade_head
from planwright.core.tests.retention_support import Seeded, count_rows, seed_job

pytestmark = pytest.mark.e2e


def prune(data: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return subprocess.run(
        [sys.executable, "-m", "planwright", "prune", "--data-dir", str(data), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def seed(data: Path) -> tuple[Seeded, Seeded]:
    url = f"sqlite:///{data / 'planwright.db'}"
    upgrade_head(url)

    async def run() -> tuple[Seeded, Seeded]:
        engine = make_engine(url)
        store = ArtifactStore(data / "artifacts")
        try:
            old = await seed_job(engine, store, age=timedelta(days=10), events_count=4, contents=(b"12345",))
            new = await seed_job(engine, store, age=timedelta(days=2))
            return old, new
        finally:
            await engine.dispose()

    return asyncio.run(run())


def rows(data: Path, job: Seeded) -> dict[str, int]:
    async def run() -> dict[str, int]:
        engine = make_engine(f"sqlite:///{data / 'planwright.db'}")
        try:
            return await count_rows(engine, job.id)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def counts(stdout: str) -> dict[str, int]:
    """The report's lines, ``  <table>  <n>[  (<size>)]``, as numbers by name."""
    out = {}
    for line in stdout.splitlines()[1:]:
        if line.startswith("  "):
            name, number = line.split("(")[0].strip().rsplit(None, 1)
            out[name] = int(number)
    return out


def test_a_dry_run_then_a_prune_print_what_goes(tmp_path):
    data = tmp_path / "data"
    old, new = seed(data)

    dry = prune(data, "--older-than", "7d", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("would delete 1 job(s) finished before ")
    assert counts(dry.stdout) == {**old.rows, "artifact files": 1}
    assert "(5 bytes)" in dry.stdout
    assert "dry run: nothing was changed" in dry.stdout
    assert rows(data, old) == old.rows

    done = prune(data, "--older-than", "7d")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("deleted 1 job(s) finished before ")
    assert done.stdout.splitlines()[1:] == dry.stdout.splitlines()[1:-1]  # the same counts
    assert set(rows(data, old).values()) == {0}
    assert rows(data, new) == new.rows
    assert not (data / "artifacts" / "sha256" / old.hashes[0][:2] / old.hashes[0]).exists()


def test_retention_days_is_the_default_age_and_bad_durations_are_refused(tmp_path):
    data = tmp_path / "data"
    _, new = seed(data)
    assert prune(data, RETENTION_DAYS="1").stdout.startswith("deleted 2 job(s)")
    assert set(rows(data, new).values()) == {0}

    for bad in ("7", "1w", "7 days"):
        refused = prune(data, "--older-than", bad)
        assert refused.returncode == 2
        assert "give a whole number and a unit, d, h, m or s" in refused.stderr, refused.stderr
    off = prune(data, RETENTION_DAYS="0")
    assert off.returncode == 2
    assert "give --older-than" in off.stderr
