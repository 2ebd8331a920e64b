"""Finding 4 of issue 12, replayed against a real `planwright up`: keys, tenants, scopes, cross-site
writes, the Host check, rate limits; and finding 5 (idempotency).

Two tenants share one server: everything of acme's is a 404 to beta's key, on every route and both
event streams; a form post from another site cannot approve; a foreign Host is refused.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import DEMO_GOAL
from tests.e2e.support import REPO, free_port, planwright_up

POLICY = """
version: 1
environments:
  dev:
    allowed_tools: ["*"]
    require_approval: [file_write_artifact]
"""


def planwright(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the ``planwright`` command in embedded mode (``env`` added to this process's)."""
    embedded = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return subprocess.run(
        [sys.executable, "-m", "planwright", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**embedded, **env},
        timeout=120,
    )


def make_key(data: Path, tenant: str, name: str, scopes: str = "jobs:read,jobs:write,approvals:write") -> str:
    out = planwright(
        "keys", "create", "--tenant", tenant, "--name", name, "--scopes", scopes, "--data-dir", str(data)
    )
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip()
    assert key.startswith("pw_"), out.stdout
    assert len(key) > 40, out.stdout
    return key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def wait_until(what: str, check: Any, ceiling_s: float = 120.0) -> Any:
    deadline = time.monotonic() + ceiling_s
    while True:
        if result := check():
            return result
        assert time.monotonic() < deadline, f"waited {ceiling_s:.0f}s for {what}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A server with keys on: acme (writer, approver), acme's reader, acme's admin, and beta."""
    data = tmp_path_factory.mktemp("auth")
    policy = data / "policy.yaml"
    policy.write_text(POLICY)
    keys = {
        "acme": make_key(data, "acme", "ci"),
        "reader": make_key(data, "acme", "dashboard", "jobs:read"),
        "admin": make_key(data, "acme", "ops", "admin"),
        "beta": make_key(data, "beta", "ci"),
    }
    env = {
        "POLICY_GATE_ENABLED": "true",
        "POLICY_CONFIG_PATH": str(policy),
        "RATE_LIMIT_READ_PER_S": "1000",
    }
    with planwright_up(data, **env) as base:
        yield {"base": base, "keys": keys, "data": data}


def test_every_route_needs_a_key_once_keys_exist(server: dict[str, Any]) -> None:
    base = server["base"]
    for method, path in [
        ("GET", "/jobs"),
        ("POST", "/jobs"),
        ("GET", "/jobs/changes"),
        ("GET", "/tools"),
        ("GET", "/policy"),
        ("GET", "/keys"),
        ("GET", "/jobs/00000000-0000-0000-0000-000000000000/events"),
        ("GET", "/artifacts/00000000-0000-0000-0000-000000000000/content"),
        ("POST", "/tasks/00000000-0000-0000-0000-000000000000/approve"),
    ]:
        for headers in ({}, bearer("pw_not-a-key"), {"Cookie": "planwright_session=pw_nope"}):
            resp = httpx.request(method, base + path, headers=headers, json={} if method == "POST" else None)
            assert resp.status_code == 401, (method, path, headers, resp.text)
            assert resp.json()["error"]["code"] == "unauthorized"
            assert resp.headers["www-authenticate"] == "Bearer"
    # What needs no key: health, metrics, the API docs.
    for path in ("/healthz", "/metrics", "/openapi.json"):
        assert httpx.get(base + path).status_code == 200, path
    assert httpx.get(base + "/auth/session").status_code == 401


def _job_waiting_for_approval(base: str, key: str) -> tuple[str, dict[str, Any]]:
    job = httpx.post(base + "/jobs", json={"goal": DEMO_GOAL}, headers=bearer(key))
    assert job.status_code == 201, job.text
    job_id = job.json()["id"]

    def waiting() -> dict[str, Any] | None:
        tasks = httpx.get(f"{base}/jobs/{job_id}/tasks", headers=bearer(key)).json()
        return next((t for t in tasks if t["status"] == "awaiting_approval"), None)

    return job_id, wait_until("a task awaiting approval", waiting)


def test_a_tenant_sees_and_acts_on_its_own_jobs_only(server: dict[str, Any]) -> None:
    base, keys = server["base"], server["keys"]
    acme, beta = bearer(keys["acme"]), bearer(keys["beta"])
    job_id, task = _job_waiting_for_approval(base, keys["acme"])
    task_id = task["id"]

    # beta's jobs stream is open while acme's job changes: it must never name acme's job.
    seen: list[str] = []
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        listening = pool.submit(_read_changes, base, keys["beta"], seen, 6.0)

        # Every route with one of acme's ids is a 404 to beta (not a 403: nothing is revealed).
        reads = [
            f"/jobs/{job_id}",
            f"/jobs/{job_id}/tasks",
            f"/jobs/{job_id}/llm-calls",
            f"/jobs/{job_id}/artifacts",
            f"/jobs/{job_id}/events",
        ]
        nobody = "00000000-0000-4000-8000-000000000000"
        for path in reads:
            resp = httpx.get(base + path, headers=beta)
            assert resp.status_code == 404, (path, resp.text)
            # The same answer as for an id that does not exist at all.
            missing = httpx.get(base + path.replace(job_id, nobody), headers=beta)
            assert resp.text.replace(job_id, nobody) == missing.text
        for path in (f"/tasks/{task_id}/approve", f"/tasks/{task_id}/reject", f"/tasks/{task_id}/retry"):
            resp = httpx.post(base + path, headers=beta, json={})
            assert resp.status_code == 404, (path, resp.text)
        assert httpx.post(f"{base}/jobs/{job_id}/cancel", headers=beta, json={}).status_code == 404
        listed = httpx.get(base + "/jobs", headers=beta).json()["items"]
        assert job_id not in [j["id"] for j in listed]

        # acme approves: the decision names the key that made it, and the job runs to the end.
        approved = httpx.post(f"{base}/tasks/{task_id}/approve", headers=acme, json={"comment": "ok"})
        assert approved.status_code == 200, approved.text
        decision = approved.json()["policy_decisions"][-1]
        assert (decision["decision"], decision["decided_by"]) == ("approved", "ci")
        wait_until(
            "acme's job to succeed",
            lambda: httpx.get(f"{base}/jobs/{job_id}", headers=acme).json()["status"] == "succeeded",
        )
        listening.result()
    assert job_id not in "".join(seen), seen

    # The artifact: acme reads it, beta gets 404 for its metadata and its content.
    artifacts = httpx.get(f"{base}/jobs/{job_id}/artifacts", headers=acme).json()
    assert artifacts, "the demo goal writes an artifact"
    art = artifacts[0]["id"]
    assert httpx.get(f"{base}/artifacts/{art}/content", headers=acme).status_code == 200
    assert httpx.get(f"{base}/artifacts/{art}", headers=beta).status_code == 404
    assert httpx.get(f"{base}/artifacts/{art}/content", headers=beta).status_code == 404
    # acme's own stream replays its job; the SSE stream works with the session cookie too.
    session = httpx.post(base + "/auth/session", json={"key": keys["acme"]})
    assert session.status_code == 200
    assert session.json()["tenant"] == "acme"
    cookie = session.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert keys["acme"].lower() not in cookie  # a session token, never the key
    with httpx.stream("GET", f"{base}/jobs/{job_id}/events", cookies=session.cookies) as resp:
        assert resp.status_code == 200
        assert "job.succeeded" in resp.read().decode()
    # Metrics are open to a scraper: they carry no tenant, job or goal.
    metrics = httpx.get(base + "/metrics").text
    assert "acme" not in metrics
    assert job_id not in metrics
    assert "checklist" not in metrics


def test_only_the_tenant_whose_job_asks_may_answer_and_needs_approvals_write(server: dict[str, Any]) -> None:
    base, keys = server["base"], server["keys"]
    acme = bearer(keys["acme"])
    ask = {"key": "ask", "title": "Ask", "tool": "ask_human", "args": {"question": "Go on?"}}
    job = httpx.post(base + "/jobs", json={"plan": {"tasks": [ask]}}, headers=acme)
    assert job.status_code == 201, job.text
    job_id = job.json()["id"]

    def asking() -> dict[str, Any] | None:
        tasks = httpx.get(f"{base}/jobs/{job_id}/tasks", headers=acme).json()
        return next((t for t in tasks if t["status"] == "awaiting_input"), None)

    task_id = wait_until("a task awaiting input", asking)["id"]
    other = httpx.post(f"{base}/tasks/{task_id}/input", headers=bearer(keys["beta"]), json={"answer": "yes"})
    missing = httpx.post(
        f"{base}/tasks/00000000-0000-4000-8000-000000000000/input",
        headers=bearer(keys["beta"]),
        json={"answer": "yes"},
    )
    assert (other.status_code, other.json()["error"]["code"]) == (404, missing.json()["error"]["code"])
    reader = httpx.post(
        f"{base}/tasks/{task_id}/input", headers=bearer(keys["reader"]), json={"answer": "yes"}
    )
    assert reader.status_code == 403
    assert "approvals:write" in reader.text
    answered = httpx.post(f"{base}/tasks/{task_id}/input", headers=acme, json={"answer": "yes"})
    assert answered.status_code == 200, answered.text
    decision = answered.json()["policy_decisions"][-1]
    assert (decision["decision"], decision["decided_by"]) == ("answered", "ci")


def _read_changes(base: str, key: str, seen: list[str], seconds: float) -> None:
    try:
        with httpx.stream("GET", base + "/jobs/changes", headers=bearer(key), timeout=seconds) as resp:
            assert resp.status_code == 200
            for line in resp.iter_lines():
                seen.append(line)
    except httpx.ReadTimeout:
        pass


def test_scopes_limit_what_a_key_may_do(server: dict[str, Any]) -> None:
    base, keys = server["base"], server["keys"]
    reader, admin = bearer(keys["reader"]), bearer(keys["admin"])
    assert httpx.get(base + "/jobs", headers=reader).status_code == 200
    refused = httpx.post(base + "/jobs", headers=reader, json={"goal": "Summarize this."})
    assert refused.status_code == 403
    assert "jobs:write" in refused.json()["error"]["message"]
    assert httpx.get(base + "/policy", headers=reader).status_code == 403
    assert httpx.get(base + "/policy", headers=admin).status_code == 200
    listed = httpx.get(base + "/keys", headers=admin)
    assert listed.status_code == 200
    assert {k["tenant"] for k in listed.json()} == {"acme"}  # an admin sees its own tenant's keys only
    assert all("key" not in k and "sha256" not in k for k in listed.json())


def test_signing_out_ends_the_session_everywhere(server: dict[str, Any]) -> None:
    base, key = server["base"], server["keys"]["acme"]
    session = httpx.post(base + "/auth/session", json={"key": key}).cookies
    stolen = dict(session)  # a copy of the cookie, as a thief would keep it
    assert httpx.get(base + "/auth/session", cookies=session).json()["key_name"] == "ci"
    assert httpx.delete(base + "/auth/session", cookies=session).status_code == 204
    assert httpx.get(base + "/jobs", cookies=stolen).status_code == 401
    # A session token is not a key: it cannot start another session.
    again = httpx.post(base + "/auth/session", json={"key": stolen["planwright_session"]})
    assert again.status_code == 401


def test_a_revoked_key_stops_working_within_seconds(server: dict[str, Any]) -> None:
    base, data = server["base"], server["data"]
    key = make_key(data, "acme", "temp")
    assert httpx.get(base + "/jobs", headers=bearer(key)).status_code == 200  # known at once
    session = httpx.post(base + "/auth/session", json={"key": key}).cookies
    assert httpx.get(base + "/jobs", cookies=session).status_code == 200
    out = planwright("keys", "revoke", "acme/temp", "--data-dir", str(data))
    assert out.returncode == 0, out.stderr
    wait_until(
        "the revoked key to be refused",
        lambda: httpx.get(base + "/jobs", headers=bearer(key)).status_code == 401,
        ceiling_s=30,
    )
    assert httpx.get(base + "/jobs", cookies=session).status_code == 401  # its sessions end with it


def test_idempotency_key_returns_the_first_job(server: dict[str, Any]) -> None:
    base, key = server["base"], server["keys"]["acme"]
    headers = {**bearer(key), "Idempotency-Key": "order-42"}
    body = {"goal": "Summarize the history of Redis."}
    first = httpx.post(base + "/jobs", json=body, headers=headers)
    again = httpx.post(base + "/jobs", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    other = httpx.post(base + "/jobs", json={"goal": "Something else."}, headers=headers)
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["error"]["message"]
    # Per tenant: beta's same key is beta's own.
    theirs = httpx.post(
        base + "/jobs", json=body, headers={**bearer(server["keys"]["beta"]), "Idempotency-Key": "order-42"}
    )
    assert theirs.status_code == 201
    assert theirs.json()["id"] != first.json()["id"]
    # Sent many times at once: one job.
    headers = {**bearer(key), "Idempotency-Key": "burst-1"}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: httpx.post(base + "/jobs", json=body, headers=headers), range(8)))
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert (
        httpx.post(base + "/jobs", json=body, headers={**bearer(key), "Idempotency-Key": "a b"}).status_code
        == 422
    )


def test_the_cli_submits_with_a_key(server: dict[str, Any]) -> None:
    base, key = server["base"], server["keys"]["acme"]
    out = planwright(
        "submit",
        "--follow",
        "Summarize the history of Postgres.",
        PLANWRIGHT_API=base,
        PLANWRIGHT_API_KEY=key,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    refused = planwright("submit", "Summarize it.", PLANWRIGHT_API=base, PLANWRIGHT_API_KEY="")
    assert refused.returncode == 2
    assert "API key" in refused.stderr


# --- an open server (no keys) on loopback: the seed's quickstart, and what a web page can still not do


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with planwright_up(tmp_path_factory.mktemp("open")) as base:
        yield base


def test_open_on_loopback_runs_as_before(open_server: str) -> None:
    assert httpx.get(open_server + "/auth/session").json() == {
        "auth": "open",
        "tenant": None,
        "key_name": None,
        "scopes": ["admin", "approvals:write", "jobs:read", "jobs:write"],
    }
    job = httpx.post(open_server + "/jobs", json={"goal": "Summarize the history of SQLite."})
    assert job.status_code == 201


def test_a_cross_site_form_post_cannot_change_state(open_server: str) -> None:
    job_id = httpx.post(open_server + "/jobs", json={"goal": DEMO_GOAL}).json()["id"]
    cancel = f"{open_server}/jobs/{job_id}/cancel"
    # What a form on evil.example posts: the browser adds its Origin.
    form = {"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"}
    resp = httpx.post(cancel, headers=form, content=b"")
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "cross_site"
    resp = httpx.post(cancel, headers={"Sec-Fetch-Site": "cross-site"})
    assert resp.status_code == 403
    # A form post without an Origin (an old browser) is still not JSON.
    resp = httpx.post(cancel, headers={"Content-Type": "text/plain"}, content=b"x")
    assert resp.status_code == 415
    assert "application/json" in resp.json()["error"]["message"]
    # A job submitted that way is refused too, and nothing was cancelled.
    resp = httpx.post(open_server + "/jobs", headers=form, content=b"goal=x")
    assert resp.status_code == 403
    assert httpx.get(f"{open_server}/jobs/{job_id}").json()["status"] != "cancelled"
    # The same origin (the UI) may; so may a page behind a proxy that says whose host it served
    # (`make ui-dev`'s Next.js proxy adds X-Forwarded-Host; another site's page cannot send it
    # without a CORS preflight).
    port = open_server.rsplit(":", 1)[1]
    same = httpx.post(cancel, headers={"Origin": f"http://127.0.0.1:{port}"}, json={})
    assert same.status_code in (200, 409), same.text
    proxied = {"Origin": "http://localhost:3000", "X-Forwarded-Host": "localhost:3000"}
    assert httpx.post(cancel, headers=proxied, json={}).status_code in (200, 409)
    spoofed = {"Origin": "http://evil.example", "X-Forwarded-Host": "localhost:3000"}
    assert httpx.post(cancel, headers=spoofed, json={}).status_code == 403


def test_a_foreign_host_header_is_refused(open_server: str) -> None:
    for host in ("evil.example", "evil.example:80", "127.0.0.1.nip.io"):
        resp = httpx.get(open_server + "/jobs", headers={"Host": host})
        assert resp.status_code == 400, host
        assert "PLANWRIGHT_ALLOWED_HOSTS" in resp.json()["error"]["message"]
    for host in ("localhost", "127.0.0.1:8000", "[::1]:8000"):
        assert httpx.get(open_server + "/jobs", headers={"Host": host}).status_code == 200, host


def test_an_open_api_is_refused_on_a_public_address(tmp_path: Path) -> None:
    port = free_port()
    out = planwright("up", "--host", "0.0.0.0", "--port", str(port), "--data-dir", str(tmp_path))
    assert out.returncode == 2, out.stdout + out.stderr
    assert "planwright keys create" in out.stderr
    assert "PLANWRIGHT_AUTH=none" in out.stderr


def test_an_explicitly_open_api_may_listen_publicly(tmp_path: Path) -> None:
    with planwright_up(tmp_path, args=("--host", "0.0.0.0"), PLANWRIGHT_AUTH="none") as base:
        assert httpx.get(base + "/auth/session").json()["auth"] == "open"
    assert "PLANWRIGHT_AUTH=none" in (tmp_path / "server.log").read_text()


def test_keys_are_rate_limited_with_retry_after(tmp_path: Path) -> None:
    key = make_key(tmp_path, "acme", "ci")
    with planwright_up(tmp_path, RATE_LIMIT_READ_PER_S="2", RATE_LIMIT_SUBMIT_PER_S="1") as base:
        answers = [httpx.get(base + "/jobs", headers=bearer(key)) for _ in range(12)]
        codes = [a.status_code for a in answers]
        assert 200 in codes, codes
        assert 429 in codes, codes
        limited = next(a for a in answers if a.status_code == 429)
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["error"]["code"] == "rate_limited"
        posts = [
            httpx.post(base + "/jobs", headers=bearer(key), json={"goal": "Summarize x."}) for _ in range(6)
        ]
        assert 429 in [p.status_code for p in posts]
        # Reads and writes are counted apart; health is never limited.
        assert httpx.get(base + "/healthz").status_code == 200


def test_the_open_session_body_is_json(open_server: str) -> None:
    body = httpx.post(open_server + "/auth/session", json={"key": "pw_anything"})
    assert body.status_code == 200
    assert json.loads(body.text)["auth"] == "open"
    assert "set-cookie" not in body.headers


def test_revoking_every_key_locks_the_api_rather_than_opening_it(tmp_path: Path) -> None:
    key = make_key(tmp_path, "acme", "only")
    with planwright_up(tmp_path) as base:
        assert httpx.get(base + "/jobs", headers=bearer(key)).status_code == 200
        assert planwright("keys", "revoke", "acme/only", "--data-dir", str(tmp_path)).returncode == 0
        wait_until(
            "the last key to be refused",
            lambda: httpx.get(base + "/jobs", headers=bearer(key)).status_code == 401,
            ceiling_s=30,
        )
        assert httpx.get(base + "/jobs").status_code == 401  # not open again
    # Started again with only a revoked key: still locked, and the log says why.
    with planwright_up(tmp_path) as base:
        assert httpx.get(base + "/jobs").status_code == 401
        assert httpx.get(base + "/auth/session").status_code == 401
    assert "every API key is revoked" in (tmp_path / "server.log").read_text()


def test_the_web_ui_cannot_be_framed_by_another_site(tmp_path: Path) -> None:
    """A framed UI's buttons could be clicked through a decoy page, and its requests would be
    same-origin: every UI page forbids framing."""
    ui = REPO / "ui" / "out"
    assert (ui / "index.html").is_file(), "the web UI is not built: make ui-build (make test does)"
    with planwright_up(tmp_path, PLANWRIGHT_UI_DIR=str(ui)) as base:
        for path in ("/", "/job/", "/tools/"):
            page = httpx.get(base + path)
            assert page.status_code == 200, path
            assert page.headers["x-frame-options"] == "DENY", path
            assert page.headers["content-security-policy"] == "frame-ancestors 'none'", path
            assert page.headers["x-content-type-options"] == "nosniff", path
