"""A finished job's ``result`` on GET /jobs/{id}: its final tasks' outputs and its artifacts, and who
wrote the text (the mock model says so)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import sqlalchemy as sa

from planwright.core.db.schema import jobs, tasks
from planwright.core.llm.mock import NOTICE_LINE
from planwright.services.api.tests.support import wait_for_job


def task(key: str, tool: str, args: dict[str, Any], *deps: str) -> dict[str, Any]:
    return {"key": key, "title": key.capitalize(), "tool": tool, "args": args, "depends_on": list(deps)}


async def test_the_demos_result_is_its_summary_and_the_artifact_it_wrote(client, demo_goal):
    created = (await client.post("/jobs", json={"goal": demo_goal})).json()
    assert created["result"] is None  # not finished yet
    job = await wait_for_job(client, created["id"])
    assert job["status"] == "succeeded", job["error"]

    result = job["result"]
    (final,) = result["tasks"]  # the summary: nothing depends on it
    assert (final["key"], final["tool"], final["status"]) == (
        "summarize_artifact",
        "text_summarize",
        "succeeded",
    )
    assert final["text"] == final["output"]["text"].strip()
    assert final["text"].startswith(NOTICE_LINE)
    assert final["mock"] is True
    assert result["text"] == final["text"]

    (artifact,) = result["artifacts"]
    listed = (await client.get(f"/jobs/{job['id']}/artifacts")).json()
    assert artifact == listed[0]
    assert (artifact["name"], artifact["media_type"]) == ("tools.md", "text/markdown")
    assert job["usage"]["mock_calls"] == job["usage"]["calls"] > 0


async def test_several_final_tasks_each_give_their_text_under_their_title(client):
    plan = {
        "tasks": [
            task("notes", "text_generate", {"prompt": "Write notes about queues"}),
            task("outline", "text_generate", {"prompt": "Outline a talk about queues"}),
        ]
    }
    job = await wait_for_job(client, (await client.post("/jobs", json={"plan": plan})).json()["id"])
    result = job["result"]
    assert [t["key"] for t in result["tasks"]] == ["notes", "outline"]  # plan order
    notes, outline = (t["text"] for t in result["tasks"])
    assert result["text"] == f"## Notes\n\n{notes}\n\n## Outline\n\n{outline}"
    assert result["artifacts"] == []


async def test_a_failed_jobs_result_shows_the_failed_final_task_and_no_text(client):
    plan = {"tasks": [task("save", "file_write_artifact", {"name": "x.md"})]}  # nothing to write
    job = await wait_for_job(client, (await client.post("/jobs", json={"plan": plan})).json()["id"])
    assert job["status"] == "failed"
    (final,) = job["result"]["tasks"]
    assert (final["key"], final["status"], final["text"], final["mock"]) == ("save", "failed", None, False)
    assert job["result"]["text"] is None
    assert job["result"]["artifacts"] == []


async def test_a_jobs_list_carries_no_result(client, demo_goal):
    job = await wait_for_job(client, (await client.post("/jobs", json={"goal": demo_goal})).json()["id"])
    (listed,) = (await client.get("/jobs")).json()["items"]
    assert listed["id"] == job["id"]
    assert "result" not in listed


async def test_a_result_is_read_again_only_when_its_job_changes(client, runtime):
    """Results are kept by (job id, version): every Orchestrator write to a job or its tasks bumps the
    version, so a changed job (a retry, say) is never answered from the kept result."""
    plan = {"tasks": [task("notes", "text_generate", {"prompt": "Write notes about queues"})]}
    job = await wait_for_job(client, (await client.post("/jobs", json={"plan": plan})).json()["id"])
    first = job["result"]["text"]

    async def write(output: dict[str, Any], bump: int) -> None:
        async with runtime.engine.begin() as conn:
            await conn.execute(
                sa.update(tasks).where(tasks.c.job_id == UUID(job["id"])).values(output=output)
            )
            await conn.execute(
                sa.update(jobs).where(jobs.c.id == UUID(job["id"])).values(version=jobs.c.version + bump)
            )

    await write({"text": "changed behind the Orchestrator's back"}, bump=0)
    assert (await client.get(f"/jobs/{job['id']}")).json()["result"]["text"] == first  # kept
    await write({"text": "changed by a write that bumps the version"}, bump=1)
    changed = (await client.get(f"/jobs/{job['id']}")).json()["result"]
    assert changed["text"] == "changed by a write that bumps the version"
