from __future__ import annotations

import pytest

from planwright.core.errors import ConfigError
from planwright.core.settings import async_db_url, load_settings


def test_embedded_by_default(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for var in ("DATABASE_URL", "REDIS_URL", "PLANWRIGHT_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert s.embedded
    assert s.db_url == "sqlite+aiosqlite:///var/planwright.db"
    assert (s.critic_enabled, s.critic_max_reworks, s.policy_gate_enabled) == (False, 2, False)


def test_seed_variable_names_are_read(monkeypatch):
    monkeypatch.setenv("CRITIC_ENABLED", "true")
    monkeypatch.setenv("CRITIC_MAX_REWORKS", "4")
    monkeypatch.setenv("POLICY_GATE_ENABLED", "true")
    monkeypatch.setenv("POLICY_MODE", "prod")
    monkeypatch.setenv("POLICY_CONFIG_PATH", "elsewhere/policy.yaml")
    s = load_settings()
    assert (s.critic_enabled, s.critic_max_reworks, s.policy_gate_enabled, s.policy_mode) == (
        True,
        4,
        True,
        "prod",
    )
    assert str(s.policy_config_path) == "elsewhere/policy.yaml"


def test_llm_planner_with_openai_needs_a_key(monkeypatch):
    monkeypatch.setenv("PLANNER_MODE", "llm")
    monkeypatch.setenv("LLM_PROVIDER", "openai")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        load_settings()


def test_database_url_alone_is_enough_to_migrate(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert load_settings().db_url == "postgresql+asyncpg://u@h/db"  # `alembic upgrade head` needs no Redis


def test_services_refuse_a_half_distributed_configuration(monkeypatch, tmp_path):
    from planwright.services.runtime import Runtime

    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.delenv("REDIS_URL", raising=False)
    with pytest.raises(ConfigError, match="both DATABASE_URL and REDIS_URL"):
        Runtime(load_settings())


def test_bad_values_name_the_variable(monkeypatch):
    monkeypatch.setenv("POLICY_MODE", "production")
    with pytest.raises(ConfigError, match="POLICY_MODE"):
        load_settings()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h:5432/db", "postgresql+asyncpg://u@h:5432/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_database_urls_get_an_async_driver(given, expected):
    assert async_db_url(given) == expected


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"LLM_PROVIDER": "anthropic"}, "set ANTHROPIC_API_KEY"),
        ({"LLM_PROVIDER": "openai_compatible", "LLM_MODEL": "llama3"}, "set LLM_BASE_URL"),
        ({"LLM_PROVIDER": "openai_compatible", "LLM_BASE_URL": "http://localhost:11434/v1"}, "set LLM_MODEL"),
        ({"LLM_PROVIDER": "claude"}, "LLM_PROVIDER"),
    ],
)
def test_a_provider_without_what_it_needs_stops_at_start_saying_what_to_set(monkeypatch, env, says):
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "LLM_BASE_URL", "LLM_MODEL"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=says):
        load_settings()


def test_keys_are_secrets_and_models_have_defaults(monkeypatch):
    monkeypatch.setenv("LLM_PROVIDER", "anthropic")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-do-not-print")
    monkeypatch.delenv("LLM_MODEL", raising=False)
    s = load_settings()
    assert s.model == "claude-haiku-4-5"
    assert "sk-ant-test-do-not-print" not in repr(s)
    assert "sk-ant-test-do-not-print" not in str(s.model_dump())


def test_replan_rounds_default_by_planner_and_an_explicit_value_wins():
    assert load_settings(planner_mode="rules").replan_rounds == 0  # the rule planner has no other plan
    assert load_settings(planner_mode="llm").replan_rounds == 1
    assert load_settings(planner_mode="llm", replan_max_rounds=0).replan_rounds == 0
    assert load_settings(planner_mode="rules", replan_max_rounds=3).replan_rounds == 3
