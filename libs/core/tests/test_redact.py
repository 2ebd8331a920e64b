from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from planwright.core import redact
from planwright.core.messages import PlanFailed, TaskFailed
from planwright.core.settings import Settings


def _settings(**env: Any) -> Settings:
    return Settings(_env_file=None, planwright_data_dir=Path("/tmp/x"), **env)


def test_secrets_are_every_secret_setting_and_url_passwords() -> None:
    settings = _settings(
        openai_api_key="sk-open-1234",
        anthropic_api_key="sk-ant-5678",
        llm_api_key="llm-key-9",
        database_url="postgresql://app:p%40ss-word@db/planwright",
        redis_url="redis://:redis-secret@cache:6379/0",
        llm_base_url="http://user:base-secret@llm.local/v1",
    )
    found = set(redact.secrets_of(settings))
    assert {"sk-open-1234", "sk-ant-5678", "llm-key-9", "p@ss-word", "p%40ss-word"} <= found
    assert {"redis-secret", "base-secret"} <= found


def test_redact_masks_each_secret_and_the_longest_first() -> None:
    try:
        redact.install(_settings(openai_api_key="sk-abcd", llm_api_key="sk-abcd-longer"))
        assert redact.redact("key sk-abcd-longer and sk-abcd.") == "key [redacted] and [redacted]."
        job_id, task_id = uuid.uuid4(), uuid.uuid4()
        failed = TaskFailed(job_id=job_id, task_id=task_id, attempt=1, error="bad key sk-abcd")
        assert redact.scrub(failed).error == "bad key [redacted]"
        plain = PlanFailed(job_id=job_id, reason="no secret here")
        assert redact.scrub(plain) is plain
    finally:
        redact.install(_settings())
    assert redact.redact("sk-abcd") == "sk-abcd"  # nothing configured: untouched


def test_short_values_are_not_treated_as_secrets() -> None:
    assert not redact.Redactor(["", "ab"])
