"""Shell-style patterns for tool names in the policy: which entry decides, and the rule it leaves."""

from __future__ import annotations

import pytest

from planwright.core.policy import EnvironmentPolicy, PolicyEngine, PolicyFile


def engine(**dev: object) -> PolicyEngine:
    return PolicyEngine(PolicyFile(environments={"dev": EnvironmentPolicy.model_validate(dev)}))


def test_allowed_tools_patterns_name_the_pattern_in_the_rule():
    policy = engine(allowed_tools=["text_generate", "mcp.github.*"])
    own = policy.decide("dev", "text_generate")
    assert (own.allowed, own.rule) == (True, "environments.dev.allowed_tools")
    github = policy.decide("dev", "mcp.github.create_issue")
    assert (github.allowed, github.rule) == (True, "environments.dev.allowed_tools.mcp.github.*")
    assert github.reason == "tool 'mcp.github.create_issue' is allowed in dev"
    other = policy.decide("dev", "mcp.notes.add")
    assert (other.allowed, other.rule) == (False, "environments.dev.allowed_tools")
    assert not policy.decide("dev", "mcp.githubber.x").allowed  # the dot is part of the pattern
    assert (
        policy.decide("dev", "text_summarize").reason
        == "tool 'text_summarize' is not in the allowed tools for dev"
    )


def test_a_star_still_allows_everything_with_its_old_rule():
    assert (
        engine(allowed_tools=["*"]).decide("dev", "mcp.notes.add").rule == "environments.dev.allowed_tools.*"
    )


def test_denied_patterns_win_over_allowed_ones_and_the_own_name_is_preferred():
    policy = engine(
        allowed_tools=["*"],
        denied_tools={"mcp.*": "no MCP here", "mcp.notes.crash": "it stops the server"},
    )
    crash = policy.decide("dev", "mcp.notes.crash")
    assert (crash.allowed, crash.rule) == (False, "environments.dev.denied_tools.mcp.notes.crash")
    assert crash.reason == "tool 'mcp.notes.crash' is denied in dev: it stops the server"
    add = policy.decide("dev", "mcp.notes.add")
    assert (add.allowed, add.rule) == (False, "environments.dev.denied_tools.mcp.*")
    assert add.reason == "tool 'mcp.notes.add' is denied in dev: no MCP here"
    assert policy.decide("dev", "text_generate").allowed


def test_the_first_matching_pattern_in_file_order_decides():
    policy = engine(allowed_tools=["*"], denied_tools={"mcp.notes.*": "first", "mcp.*": "second"})
    assert policy.decide("dev", "mcp.notes.add").rule == "environments.dev.denied_tools.mcp.notes.*"
    assert policy.decide("dev", "mcp.web.get").rule == "environments.dev.denied_tools.mcp.*"


def test_approval_by_pattern_names_the_pattern():
    policy = engine(allowed_tools=["*"], require_approval=["file_write_artifact", "mcp.github.*"])
    github = policy.decide("dev", "mcp.github.merge")
    assert (github.allowed, github.needs_approval) == (True, True)
    assert github.rule == "environments.dev.require_approval.mcp.github.*"
    assert github.reason == "tool 'mcp.github.merge' needs a person's approval in dev"
    own = policy.decide("dev", "file_write_artifact")
    assert (own.needs_approval, own.rule) == (True, "environments.dev.require_approval")
    assert not policy.decide("dev", "mcp.notes.add").needs_approval


def test_a_denied_or_not_allowed_tool_is_blocked_not_sent_for_approval():
    policy = engine(
        allowed_tools=["mcp.notes.*"], denied_tools={"mcp.notes.crash": "no"}, require_approval=["mcp.*"]
    )
    assert policy.decide("dev", "mcp.notes.add").needs_approval
    assert not policy.decide("dev", "mcp.notes.crash").allowed
    assert not policy.decide("dev", "mcp.web.get").allowed


@pytest.mark.parametrize(
    ("tool", "timeout_s"),
    [("mcp.github.search", 5.0), ("mcp.github.merge", 1.0), ("mcp.notes.add", 30.0), ("text_generate", None)],
)
def test_limits_come_from_the_own_entry_else_the_longest_matching_pattern(tool, timeout_s):
    policy = engine(
        allowed_tools=["*"],
        tools={
            "mcp.*": {"timeout_s": 30},
            "mcp.github.*": {"timeout_s": 5},
            "mcp.github.merge": {"timeout_s": 1},
        },
    )
    assert policy.limits("dev", tool).timeout_s == timeout_s


def test_max_calls_per_job_by_pattern_counts_each_tool_and_names_the_pattern():
    policy = engine(allowed_tools=["*"], tools={"mcp.notes.*": {"max_calls_per_job": 2}})
    tasks: list[tuple[str, str, dict[str, str]]] = [
        ("a1", "mcp.notes.add", {}),
        ("a2", "mcp.notes.add", {}),
        ("e1", "mcp.notes.echo", {}),
    ]
    assert policy.check_plan("dev", tasks).allowed  # two of add, one of echo
    check = policy.check_plan("dev", [*tasks, ("a3", "mcp.notes.add", {})])
    assert [(p.rule, p.reason) for p in check.problems] == [
        (
            "environments.dev.tools.mcp.notes.*.max_calls_per_job",
            "the plan calls mcp.notes.add 3 times; the policy allows 2 per job in dev",
        )
    ]


def test_allowed_domains_under_a_pattern_name_the_pattern():
    policy = engine(allowed_tools=["*"], tools={"mcp.web.*": {"allowed_domains": ["example.com"]}})
    d = policy.decide("dev", "mcp.web.fetch", {"url": "https://evil.test/"})
    assert (d.allowed, d.rule) == (False, "environments.dev.tools.mcp.web.*.allowed_domains")
    assert policy.decide("dev", "mcp.web.fetch", {"url": "https://example.com/"}).allowed
