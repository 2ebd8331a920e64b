"""The suite ignores the caller's Planwright settings: a slice of it (in-process settings, Redis,
Postgres, a `planwright up` process) passes with DATABASE_URL, REDIS_URL, LLM_PROVIDER and others
exported to values that would break every one of them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import isolation

REPO = Path(__file__).parents[2]
SLICE = (
    "libs/core/tests/test_settings.py::test_embedded_by_default",
    "services/api/tests/test_ratelimit.py::test_replicas_share_one_budget_through_redis",
    "libs/core/db/tests/test_migrations.py::test_postgres_upgrade_head_matches_the_schema",
    "tests/e2e/test_demo_e2e.py::test_openapi_and_root",
)
BOGUS = {
    "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nothing",
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "REDIS_KEY_PREFIX": "caller:",
    "LLM_PROVIDER": "openai",  # with no OPENAI_API_KEY: every Settings() would refuse
    "PLANWRIGHT_AUTH": "keys",
    "PLANWRIGHT_DATA_DIR": "/nonexistent/planwright",
    "POLICY_MODE": "prod",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1",
}

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def test_a_slice_of_the_suite_passes_with_the_callers_settings_set_to_nonsense() -> None:
    assert not any(isolation.is_setting(name) for name in os.environ), "this session was scrubbed too"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},  # not an xdist worker
        **BOGUS,
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *SLICE],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(SLICE)} passed" in done.stdout, done.stdout
    ignored = next(
        line for line in done.stdout.splitlines() if line.startswith("ignored from the environment")
    )
    assert all(name in ignored for name in BOGUS), ignored


def test_every_setting_is_scrubbed_and_the_tests_own_variables_are_kept() -> None:
    assert isolation.is_setting("DATABASE_URL")
    assert isolation.is_setting("redis_url")  # Settings reads names case-insensitively
    assert isolation.is_setting("SHUTDOWN_GRACE_S")
    assert isolation.is_setting("OPENAI_BASE_URL")
    assert isolation.is_setting("PLANWRIGHT_API_KEY")
    assert isolation.is_setting("LOG_FORMAT")
    assert not isolation.is_setting("PLANWRIGHT_TEST_DATABASE_URL")
    assert not isolation.is_setting("PLANWRIGHT_TEST_REDIS_URL")
    assert not isolation.is_setting("PATH")
