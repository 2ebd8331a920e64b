"""The policy engine and its file: decisions with their rule, limits, validation, hot reload."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from planwright.core.errors import ConfigError
from planwright.core.policy import PolicyEngine, PolicyStore

SHIPPED = Path(__file__).parents[3] / "config" / "policy.yaml"


@pytest.fixture
def shipped() -> PolicyEngine:
    return PolicyEngine.load(SHIPPED)


def test_the_shipped_policy_blocks_http_fetch_in_prod_only(shipped):
    prod = shipped.decide("prod", "http_fetch", {"url": "https://example.com/"})
    assert not prod.allowed
    assert (
        prod.reason == "tool 'http_fetch' is denied in prod: outbound HTTP requests are not allowed in prod"
    )
    assert prod.rule == "environments.prod.denied_tools.http_fetch"
    assert shipped.decide("dev", "http_fetch", {"url": "https://anything.test/"}).allowed
    assert shipped.decide("staging", "http_fetch", {"url": "https://docs.python.org/3/"}).allowed
    assert shipped.decide("prod", "text_generate", {}).rule == "environments.prod.allowed_tools"
    assert shipped.decide("dev", "text_generate", {}).rule == "environments.dev.allowed_tools.*"


def test_domains_outside_the_allowlist_are_blocked(shipped):
    d = shipped.decide("staging", "http_fetch", {"url": "https://evil.test/x"})
    assert not d.allowed
    assert d.rule == "environments.staging.tools.http_fetch.allowed_domains"
    assert "evil.test" in d.reason
    assert not shipped.decide("staging", "http_fetch", {"url": "https://notexample.com/"}).allowed
    assert shipped.decide("staging", "http_fetch", {"url": "https://www.example.com/"}).allowed


def test_tools_not_on_the_allowlist_and_unknown_modes_are_blocked(shipped):
    assert shipped.decide("staging", "shell_exec", {}).rule == "environments.staging.allowed_tools"
    assert not shipped.decide("qa", "text_generate", {}).allowed


def test_plan_limits_trip_before_anything_runs(shipped):
    eleven: list[tuple[str, str, dict[str, str]]] = [(f"t{i}", "text_generate", {}) for i in range(11)]
    check = shipped.check_plan("prod", eleven)
    assert not check.allowed
    assert [p.rule for p in check.problems] == ["environments.prod.job.max_tasks"]
    assert "11 tasks; the policy allows at most 10 in prod" in check.problems[0].reason

    fetches = [(f"f{i}", "http_fetch", {"url": "https://example.com/"}) for i in range(6)]
    check = shipped.check_plan("staging", fetches)
    assert [p.rule for p in check.problems] == ["environments.staging.tools.http_fetch.max_calls_per_job"]
    assert shipped.check_plan("staging", fetches[:5]).allowed


def test_tool_limits_are_read_per_mode(shipped):
    assert shipped.limits("staging", "http_fetch").max_response_bytes == 500_000
    assert shipped.limits("prod", "text_generate").timeout_s == 30
    assert shipped.limits("dev", "text_generate").timeout_s is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "environments:\n  prod:\n    alowed_tools: []\n",
            "environments.prod.alowed_tools: Extra inputs are not permitted",
        ),
        (
            "environments:\n  prod:\n    tools:\n      http_fetch:\n        max_response_bytes: 0\n",
            "environments.prod.tools.http_fetch.max_response_bytes: Input should be greater than 0",
        ),
        ("environments:\n  prod:\n    job:\n      max_tasks: lots\n", "environments.prod.job.max_tasks"),
        ("version: 2\nenvironments: {}\n", "version: Input should be 1"),
        ("environments: [\n", "is not valid YAML"),
        ("nothing: here\n", "environments: Field required"),
    ],
)
def test_an_invalid_file_is_refused_naming_the_key(tmp_path, text, fragment):
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        PolicyEngine.load(path)
    assert fragment in err.value.message


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="cannot read policy file"):
        PolicyEngine.load(tmp_path / "nope.yaml")


def test_edits_take_effect_without_a_restart_and_a_bad_edit_keeps_the_last_good_policy(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("environments:\n  prod:\n    allowed_tools: [text_generate]\n")
    store = PolicyStore(path)
    assert not store.engine.decide("prod", "http_fetch").allowed

    path.write_text("environments:\n  prod:\n    allowed_tools: [text_generate, http_fetch]\n")
    os.utime(path, ns=(1, 10**18))  # a new mtime even on coarse clocks
    assert store.engine.decide("prod", "http_fetch").allowed

    path.write_text("environments:\n  prod:\n    allowed_tools: 7\n")
    os.utime(path, ns=(1, 2 * 10**18))
    assert store.engine.decide("prod", "http_fetch").allowed  # still the last valid policy
