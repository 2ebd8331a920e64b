"""Distributed mode: money budgets across two API replicas on Postgres and Redis. The tenant's spend
per day is added up in the database (llm_spend) by whichever replica stores a call, the job's own
budget stops it mid-job, and the cost metric and GET /usage agree with the stored calls."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from planwright.core.llm.fake_server import FakeModelServer, Reply
from planwright.services.api.tests.test_cost_budgets import PRICES, chain  # 1,000 tokens: $0.01

POLICY = """
environments:
  dev:
    allowed_tools: ['*']
    job: {max_cost_usd: 0.06}
    budget: {daily_cost_usd: 5.0}
"""


def cost_counted(metrics_text: str) -> float:
    found = re.search(
        r'planwright_llm_cost_usd_total\{model="gpt-4o-mini",provider="openai"\} (\S+)', metrics_text
    )
    return float(found.group(1)) if found else 0.0


def test_a_job_over_its_budget_stops_and_the_day_adds_up_across_replicas(make_stack, tmp_path: Path) -> None:
    (tmp_path / "prices.yaml").write_text(PRICES)
    (tmp_path / "policy.yaml").write_text(POLICY)
    # Each call costs $0.0300: a and b spend the job's $0.06, and c's call is refused before it is made.
    replies = [Reply("done", input_tokens=500, output_tokens=2500)] * 3
    with FakeModelServer(replies) as fake:
        stack = make_stack(
            llm_provider="openai",
            openai_api_key="sk-test",
            openai_base_url=fake.openai_url,
            llm_max_retries=0,
            llm_prices_path=tmp_path / "prices.yaml",
            policy_config_path=tmp_path / "policy.yaml",
        )
        stack.start_all(workers=1)
        second_api = stack.start_api("api2")
        first = stack.submit("Write three parts", plan=chain("a", "b", "c"))
        jobs = stack.wait_all([first])
        tasks = stack.tasks(first)
        stored = stack.sql("select coalesce(sum(cost_usd), 0) from llm_calls where job_id = :job", job=first)[
            0
        ][0]
        day = stack.sql("select tenant, sum(calls), sum(cost_usd) from llm_spend group by tenant")
        usage = stack.http.get(f"{second_api}/usage").json()
        counted = cost_counted(stack.metrics("api")) + cost_counted(
            stack.http.get(f"{second_api}/metrics").text
        )
    job = jobs[first]
    assert job["status"] == "failed"
    assert job["error"].startswith(
        "budget exceeded: spent $0.0600 of $0.0600, the job's budget (environments.dev.job.max_cost_usd); "
        "task 'c' was refused a model call"
    )
    assert [t["status"] for t in tasks] == ["succeeded", "succeeded", "failed"]
    assert len(fake.requests) == 2
    assert job["cost_usd"] == pytest.approx(0.06)
    assert stored == pytest.approx(0.06)
    assert [(tenant, calls) for tenant, calls, _ in day] == [("default", 2)]
    assert day[0][2] == pytest.approx(0.06)
    assert usage["totals"]["cost_usd"] == pytest.approx(0.06)
    assert usage["jobs"][0]["id"] == first
    assert counted == pytest.approx(0.06)
