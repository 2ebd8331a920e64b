"""Artifacts, tools, health and the root redirect through the ASGI app."""

from __future__ import annotations

import hashlib
from uuid import UUID

import sqlalchemy as sa

from planwright.core.db.engine import make_engine
from planwright.core.db.schema import artifacts
from planwright.core.llm import MOCK_NOTICE

ZERO = "00000000-0000-0000-0000-000000000000"


async def test_artifact_metadata_and_content(client, demo_goal, finished):
    job_id = (await client.post("/jobs", json={"goal": demo_goal})).json()["id"]
    await finished(job_id)
    (art,) = (await client.get(f"/jobs/{job_id}/artifacts")).json()
    assert (art["name"], art["media_type"], art["job_id"], art["attempt"]) == (
        "tools.md",
        "text/markdown",
        job_id,
        1,
    )

    meta = await client.get(f"/artifacts/{art['id']}")
    assert meta.status_code == 200
    assert meta.json() == art

    content = await client.get(art["content_url"])
    assert content.status_code == 200
    assert content.headers["content-type"].startswith("text/markdown")
    assert content.headers["content-security-policy"] == "sandbox"
    assert content.headers["x-content-type-options"] == "nosniff"
    assert 'filename="tools.md"' in content.headers["content-disposition"]
    assert hashlib.sha256(content.content).hexdigest() == art["sha256"]
    assert len(content.content) == art["size"]
    tasks = (await client.get(f"/jobs/{job_id}/tasks")).json()
    assert content.text == tasks[0]["output"]["text"]  # the artifact is the checklist


async def test_a_stored_media_type_that_could_carry_a_header_is_served_as_octet_stream(
    client, runtime, demo_goal, finished
):
    """Rows from before media types were checked whole (issue 12) are never sent as a header."""
    job_id = (await client.post("/jobs", json={"goal": demo_goal})).json()["id"]
    await finished(job_id)
    (art,) = (await client.get(f"/jobs/{job_id}/artifacts")).json()
    async with runtime.engine.begin() as conn:
        await conn.execute(
            sa.update(artifacts).where(artifacts.c.id == sa.bindparam("art_id", type_=sa.Uuid)),
            {"art_id": UUID(art["id"]), "media_type": "text/html\r\nX-Injected: 1"},
        )
    content = await client.get(art["content_url"])
    assert content.status_code == 200
    assert content.headers["content-type"] == "application/octet-stream"
    assert "x-injected" not in content.headers


async def test_job_without_artifacts_lists_none(client, finished):
    job_id = (await client.post("/jobs", json={"goal": "Write a limerick about retries"})).json()["id"]
    await finished(job_id)
    assert (await client.get(f"/jobs/{job_id}/artifacts")).json() == []


async def test_unknown_artifact_is_a_404(client):
    for path in (f"/artifacts/{ZERO}", f"/artifacts/{ZERO}/content"):
        resp = await client.get(path)
        assert resp.status_code == 404
        assert resp.json()["error"]["code"] == "not_found"
    assert (await client.get("/artifacts/../../etc/passwd")).status_code == 404


async def test_missing_artifact_bytes_are_a_clear_404(client, runtime, demo_goal, finished):
    job_id = (await client.post("/jobs", json={"goal": demo_goal})).json()["id"]
    await finished(job_id)
    (art,) = (await client.get(f"/jobs/{job_id}/artifacts")).json()
    runtime.artifacts.path_for(art["sha256"]).unlink()
    resp = await client.get(art["content_url"])
    assert resp.status_code == 404
    assert "missing from the artifact store" in resp.json()["error"]["message"]


async def test_tools_lists_every_tool_with_schemas(client):
    tools = {t["name"]: t for t in (await client.get("/tools")).json()["tools"]}
    built_ins = {"text_generate", "file_write_artifact", "text_summarize", "http_fetch", "ask_human"}
    # The example plugin is installed in the test environment: its entry point adds two tools.
    assert set(tools) == built_ins | {"example.greet", "example.word_count"}
    assert {tools[name]["source"] for name in built_ins} == {"builtin"}
    assert tools["example.greet"]["source"] == "plugin:pw_example_tools.tools"
    fetch = tools["http_fetch"]
    assert "url" in fetch["args_schema"]["properties"]
    assert "url" in fetch["args_schema"]["required"]
    assert fetch["side_effects"] is False
    assert tools["file_write_artifact"]["side_effects"] is True
    assert all(t["timeout_s"] > 0 and t["description"] and t["output_schema"] for t in tools.values())


async def test_healthz_and_root(client):
    health = (await client.get("/healthz")).json()
    assert health.pop("checked_at")
    assert health == {
        "status": "ok",
        "mode": "embedded",
        "database": "ok",
        "llm_provider": "mock",
        "llm_model": "mock",
        "llm_notice": MOCK_NOTICE,
    }
    root = await client.get("/", follow_redirects=False)
    assert (root.status_code, root.headers["location"]) == (307, "/docs")


async def test_healthz_reports_an_unreachable_database(client, runtime):
    original = runtime.engine
    runtime.engine = make_engine("postgresql://nobody@127.0.0.1:1/none")  # nothing listens on port 1
    try:
        resp = await client.get("/healthz")
    finally:
        await runtime.engine.dispose()
        runtime.engine = original
    assert resp.status_code == 503
    assert resp.json()["status"] == "unavailable"


async def test_unknown_route_is_a_json_404(client):
    resp = await client.get("/nope")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "not_found"
    assert (await client.delete("/jobs")).json()["error"]["code"] == "method_not_allowed"


async def test_the_built_ui_is_served_at_the_root_next_to_the_api(runtime_factory, tmp_path):
    import httpx

    from planwright.services.api.app import create_app

    ui = tmp_path / "ui"
    (ui / "job").mkdir(parents=True)
    (ui / "index.html").write_text("<html>jobs</html>")
    (ui / "job" / "index.html").write_text("<html>job page</html>")
    runtime = await runtime_factory(planwright_ui_dir=ui, planwright_cors_origins="http://localhost:3000")
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        assert (await client.get("/")).text == "<html>jobs</html>"
        assert (await client.get("/job/")).text == "<html>job page</html>"
        assert (await client.get("/tools")).status_code == 200  # the API route still wins
        assert (await client.get("/healthz")).json()["status"] == "ok"
        missing = await client.get("/no/such/page")
        assert missing.status_code == 404
        preflight = await client.options(
            "/jobs", headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"}
        )
        assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
