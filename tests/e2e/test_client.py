"""planwright.client against a real ``planwright up``: every method, the errors, event streams resumed
across connections cut by a proxy in between, and the CLI built on the client."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from typer.testing import CliRunner

from conftest import DEMO_GOAL
from planwright.cli import app
from planwright.client import (
    AsyncClient,
    Client,
    Conflict,
    ConnectionFailed,
    EventStreamLost,
    Forbidden,
    JobFailed,
    NotFound,
    PlanwrightError,
    RateLimited,
    ServerError,
    Unauthorized,
    Unavailable,
    ValidationFailed,
    WaitTimeout,
)
from tests.e2e.support import REPO, free_port, planwright_up

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

FAILING_GOAL = "Fetch http://127.0.0.1:9/ then summarize it."  # the fetch is refused: a loopback address
APPROVAL_POLICY = """
version: 1
environments:
  dev:
    allowed_tools: ["*"]
    require_approval: [file_write_artifact]
"""
PLAN = {
    "tasks": [
        {"key": "draft", "title": "Draft", "tool": "text_generate", "args": {"prompt": "A note on queues"}},
        {
            "key": "summary",
            "title": "Summarize the draft",
            "tool": "text_summarize",
            "args": {"text": {"$from": "draft.output.text"}, "max_sentences": 1},
            "depends_on": ["draft"],
        },
        {
            "key": "save",
            "title": "Save the summary",
            "tool": "file_write_artifact",
            "args": {"name": "summary.md", "content": {"$from": "summary.output.text"}},
            "depends_on": ["summary"],
        },
    ]
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("client")
    with planwright_up(data, PLANWRIGHT_UI_DIR=str(data / "no-ui")) as base:
        yield base


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, key) of a server with API keys on, whose file_write_artifact tasks wait for approval."""
    data = tmp_path_factory.mktemp("client-keyed")
    (data / "policy.yaml").write_text(APPROVAL_POLICY)
    made = subprocess.run(
        [sys.executable, "-m", "planwright", "keys", "create", "--name", "ci", "--data-dir", str(data)],
        env={k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    env = {"POLICY_GATE_ENABLED": "true", "POLICY_CONFIG_PATH": str(data / "policy.yaml")}
    with planwright_up(data, PLANWRIGHT_UI_DIR=str(data / "no-ui"), **env) as base:
        yield base, made.stdout.strip()


class Proxy:
    """A TCP proxy in front of ``upstream`` that cuts connections: all those open now (``cut``), or
    each of the next ones once it has passed on so many bytes of the answer (``cut_after``)."""

    def __init__(self, upstream: str) -> None:
        url = httpx.URL(upstream)
        self._upstream = (url.host, url.port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.connections = 0
        self.cuts = 0  # connections closed with more of the answer still to come
        self._limits: list[int] = []
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()
        self._close()

    def cut_after(self, *limits: int) -> None:
        self._limits.extend(limits)

    def cut(self) -> None:
        with self._lock:
            self.cuts += len(self._open) // 2  # a client's socket and its upstream's
        self._close()

    def _close(self, sockets: set[socket.socket] | None = None) -> None:
        """Close ``sockets`` (default: every open one)."""
        with self._lock:
            chosen = set(self._open) if sockets is None else sockets
            self._open -= chosen
        for s in chosen:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)  # wakes the pump blocked reading it
            s.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(self._upstream)
            with self._lock:
                self.connections += 1
                limit = self._limits.pop(0) if self._limits else None
                self._open |= {client, upstream}
            threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, limit), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, limit: int | None) -> None:
        passed = 0
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if limit is not None and passed + len(data) > limit:
                    target.sendall(data[: limit - passed])
                    with self._lock:
                        self.cuts += 1
                    break
                target.sendall(data)
                passed += len(data)
        self._close({source, target})


def awaiting_approval(client: Client, job_id: UUID) -> UUID:
    """The id of the job's task that waits for approval, once it does."""
    events = client.events(job_id)
    try:
        for event in events:
            if event.type == "task.awaiting_approval":
                assert event.task_id is not None
                return event.task_id
    finally:
        events.close()
    raise AssertionError(f"job {job_id} ended without a task waiting for approval")


def assert_gap_free(ids: list[int]) -> None:
    assert ids == sorted(set(ids)), "strictly increasing, no duplicates"


def sse(job_id: UUID, i: int, kind: str) -> str:
    """One event of the job as the API streams it, for a mocked API."""
    body = {"id": i, "job_id": str(job_id), "type": kind, "data": {}, "created_at": "2026-01-01T00:00:00Z"}
    return f"id: {i}\nevent: {kind}\ndata: {json.dumps(body)}\n\n"


class Recording(httpx.HTTPTransport):
    """A real transport that notes each request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(f"{request.method} {request.url.path}")
        return super().handle_request(request)


# --- the open server


def test_submit_wait_and_read_a_job(server: str, tmp_path: Path) -> None:
    with Client(server) as client:
        job = client.submit(DEMO_GOAL, context={"team": "tools"}, priority=3)
        assert (job.status, job.priority, job.context_json) == ("pending", 3, {"team": "tools"})
        done = client.wait(job.id, timeout=60)
        assert (done.id, done.status, done.tasks.succeeded) == (job.id, "succeeded", 3)
        assert done.plan is not None
        assert [t.key for t in done.plan.tasks] == [
            "create_checklist",
            "write_artifact",
            "summarize_artifact",
        ]
        assert client.get(job.id) == done

        tasks = client.tasks(job.id)
        assert [(t.tool, t.status) for t in tasks] == [
            ("text_generate", "succeeded"),
            ("file_write_artifact", "succeeded"),
            ("text_summarize", "succeeded"),
        ]
        (artifact,) = client.artifacts(job.id)
        assert (artifact.name, artifact.media_type, artifact.task_id) == (
            "tools.md",
            "text/markdown",
            tasks[1].id,
        )
        checklist = tasks[0].output["text"] if tasks[0].output else None
        content = client.download(artifact)
        assert content.decode() == checklist
        assert len(content) == artifact.size
        written = client.download(str(artifact.id), tmp_path / "tools.md")
        assert written.read_bytes() == content

        page = client.jobs(status="succeeded", limit=200)
        assert job.id in {j.id for j in page.items}
        assert page.limit == 200
        assert {c.purpose for c in client.llm_calls(job.id)} >= {"generate"}
        # One key, one job, however often it is sent.
        key = f"test-{uuid4()}"
        first = client.submit("Write a short note", idempotency_key=key)
        assert client.submit("Write a short note", idempotency_key=key).id == first.id

        with pytest.raises(Conflict) as finished:
            client.cancel(job.id)
        assert finished.value.code == "invalid_transition"


def test_events_resume_after_connections_cut_mid_stream(server: str) -> None:
    with Client(server) as client:
        job = client.submit(DEMO_GOAL)
        client.wait(job.id, timeout=60)
        whole = [(e.id, e.type) for e in client.events(job.id)]
    size = len(httpx.get(f"{server}/jobs/{job.id}/events").content)
    with Proxy(server) as proxy, Client(proxy.url) as through:
        proxy.cut_after(size // 4, size // 2)  # the first two connections, each in the middle of the stream
        got = [(e.id, e.type) for e in through.events(job.id)]
        assert (proxy.cuts, proxy.connections) == (2, 3)
    assert got == whole, "nothing missing, nothing twice"
    assert_gap_free([i for i, _ in got])
    assert got[-1][1] == "job.succeeded"
    with Client(server) as client:
        assert [e.id for e in client.events(job.id, last_event_id=whole[4][0])] == [i for i, _ in whole[5:]]
        assert list(client.events(job.id, last_event_id=whole[-1][0])) == []  # over: nothing after the end


def test_submit_and_follow_in_one_request(server: str) -> None:
    recording = Recording()
    with Client(server, transport=recording) as client:
        got = list(client.submit_and_follow(DEMO_GOAL, priority=3))
        assert recording.sent == ["POST /jobs"]
        assert (got[0].type, got[-1].type) == ("job.created", "job.succeeded")
        job_id = got[0].job_id
        assert {e.job_id for e in got} == {job_id}
        assert_gap_free([e.id for e in got])
        assert [(e.id, e.type) for e in got] == [(e.id, e.type) for e in client.events(job_id)]
        assert client.get(job_id).priority == 3
        # One key, one job: sent again, it streams the first job's events.
        key, note = f"test-{uuid4()}", "Write a short note"
        first = [(e.job_id, e.id) for e in client.submit_and_follow(note, idempotency_key=key)]
        again = [(e.job_id, e.id) for e in client.submit_and_follow(note, idempotency_key=key)]
        assert again == first
        assert client.submit(note, idempotency_key=key).id == first[0][0]


def test_submit_and_follow_resumes_after_connections_cut_mid_stream(server: str) -> None:
    with Client(server) as client:
        job_id = list(client.submit_and_follow(DEMO_GOAL))[-1].job_id
    size = len(httpx.get(f"{server}/jobs/{job_id}/events").content)  # about what the next job streams
    recording = Recording()
    with Proxy(server) as proxy, Client(proxy.url, transport=recording) as through:
        # The submit's answer, cut after its head, then the GET that resumes it, cut too.
        proxy.cut_after(size // 4, size // 2)
        got = list(through.submit_and_follow(DEMO_GOAL))
        assert (proxy.cuts, proxy.connections) == (2, 3)
    assert (got[0].type, got[-1].type) == ("job.created", "job.succeeded")
    resumed = f"GET /jobs/{got[0].job_id}/events"
    assert recording.sent == ["POST /jobs", resumed, resumed]
    assert_gap_free([e.id for e in got])
    with Client(server) as client:
        assert [e.id for e in got] == [e.id for e in client.events(got[0].job_id)], "each once, in order"


def test_submit_and_follow_sends_a_submit_cut_before_its_head_again(server: str) -> None:
    goal = f"Write a short note about queues ({uuid4()})"
    recording = Recording()
    with Proxy(server) as proxy, Client(proxy.url, transport=recording) as through:
        proxy.cut_after(10)  # the job is made, its answer cut in its status line
        got = list(through.submit_and_follow(goal))
        assert (proxy.cuts, proxy.connections) == (1, 2)
    assert recording.sent == ["POST /jobs", "POST /jobs"]
    assert (got[0].type, got[-1].type) == ("job.created", "job.succeeded")
    with Client(server) as client:
        made = [j.id for j in client.jobs(limit=200).items if j.goal == goal]
        assert made == [got[0].job_id], "sent twice, made once"
        assert [e.id for e in got] == [e.id for e in client.events(made[0])]


def test_wait_raises_job_failed_and_retry_reopens_the_job(server: str) -> None:
    with Client(server) as client:
        job = client.submit(FAILING_GOAL)
        with pytest.raises(JobFailed) as failed:
            client.wait(job.id, timeout=60)
        assert failed.value.job.status == "failed"
        assert failed.value.error is not None
        assert "127.0.0.1 is a loopback address" in failed.value.error
        fetch, summary = client.tasks(job.id)
        assert (fetch.status, summary.status) == ("failed", "skipped")

        again = client.retry(fetch.id)
        assert (again.id, again.attempt) == (fetch.id, fetch.attempt + 1)
        with pytest.raises(JobFailed):
            client.wait(job.id, timeout=60)
        assert client.tasks(job.id)[0].attempt == again.attempt
        with pytest.raises(Conflict):
            client.approve(fetch.id)


def test_errors_carry_the_api_message(server: str) -> None:
    unknown = uuid4()
    with Client(server) as client:
        with pytest.raises(NotFound) as missing:
            client.get(unknown)
        assert (missing.value.status, missing.value.code) == (404, "not_found")
        assert str(missing.value) == missing.value.message == f"job {unknown} not found"
        with pytest.raises(NotFound):
            list(client.events(unknown))

        with pytest.raises(ValidationFailed) as invalid:
            client.submit("Write a note", priority=12)
        assert invalid.value.code == "validation_error"
        assert invalid.value.message == "priority: Input should be less than or equal to 9"
        assert invalid.value.details == [
            {"field": "priority", "message": "Input should be less than or equal to 9"}
        ]

    nowhere = f"http://127.0.0.1:{free_port()}"
    with Client(nowhere) as client:
        with pytest.raises(ConnectionFailed, match=f"cannot reach the API at {nowhere}"):
            client.get(unknown)
        with pytest.raises(ConnectionFailed, match=f"cannot reach the API at {nowhere}"):
            client.submit("Write a note")
    with Client(nowhere, reconnects=1) as client, pytest.raises(EventStreamLost, match="2 attempts in a row"):
        list(client.events(unknown))


def test_status_codes_map_to_errors() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        status = int(request.url.path.rsplit("/", 1)[-1])
        if status == 502:
            return httpx.Response(502, text="<html>bad gateway</html>")
        body = {"error": {"code": "x", "message": f"status {status}", "details": None}}
        return httpx.Response(status, json=body, headers={"Retry-After": "7"})

    with Client("http://api.test", transport=httpx.MockTransport(api)) as client:
        for status, kind in [(401, Unauthorized), (403, Forbidden), (409, Conflict), (429, RateLimited)]:
            with pytest.raises(kind, match=f"^status {status}$"):
                client.get(str(status))
        with pytest.raises(RateLimited) as limited:
            client.get("429")
        assert limited.value.retry_after == 7.0
        with pytest.raises(Unavailable) as unavailable:  # a ServerError that says when to try again
            client.get("503")
        assert (isinstance(unavailable.value, ServerError), unavailable.value.retry_after) == (True, 7.0)
        with pytest.raises(ServerError, match=r"^HTTP 502: <html>bad gateway</html>$") as failed:
            client.get("502")
        assert failed.value.retry_after is None


def test_a_failing_api_is_tried_again_from_the_last_event() -> None:
    job_id = uuid4()
    seen: list[str | None] = []
    restarting = {"error": {"code": "x", "message": "restarting", "details": None}}

    def api(request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/events"):
            return httpx.Response(503, json=restarting)  # the job, read after the stream ended early
        seen.append(request.headers.get("last-event-id"))
        if len(seen) == 1:  # ends early
            return httpx.Response(200, text=sse(job_id, 1, "job.created") + sse(job_id, 2, "job.running"))
        if len(seen) == 2:
            return httpx.Response(503, json=restarting)
        return httpx.Response(200, text=sse(job_id, 3, "job.succeeded"))

    with Client("http://api.test", transport=httpx.MockTransport(api)) as client:
        assert [e.id for e in client.events(job_id)] == [1, 2, 3]
    assert seen == [None, "2", "2"]


def test_following_waits_as_long_as_a_503_asks() -> None:
    """An API process with all its streams taken answers 503 too_many_streams with Retry-After: the
    client waits that long (not its own first backoff, half a second) before it connects again."""
    job_id = uuid4()
    tries: list[float] = []
    full = {"error": {"code": "too_many_streams", "message": "full", "details": None}}

    def api(request: httpx.Request) -> httpx.Response:
        tries.append(time.monotonic())
        if len(tries) == 1:
            return httpx.Response(503, json=full, headers={"Retry-After": "2"})
        return httpx.Response(200, text=sse(job_id, 1, "job.succeeded"))

    with Client("http://api.test", transport=httpx.MockTransport(api)) as client:
        assert [e.type for e in client.events(job_id)] == ["job.succeeded"]
    assert tries[1] - tries[0] >= 1.9, tries  # a lower bound: never flaky on a busy machine


def test_submit_and_follow_sends_the_submit_again_until_it_is_answered() -> None:
    """A connection that fails before the answer, and a 503 with Retry-After, send the submit again
    with its Idempotency-Key; the API answers the repeat with the first job's events (200, no
    Location here: the job is then known from its first event), and the stream that ends early is
    resumed from its events' job."""
    job_id = uuid4()
    sent: list[httpx.Request] = []
    posted: list[float] = []
    full = {"error": {"code": "too_many_streams", "message": "full", "details": None}}
    stream = {"Content-Type": "text/event-stream"}

    def api(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.method == "POST":
            posted.append(time.monotonic())
            if len(posted) % 3 == 1:
                raise httpx.ConnectError("connection refused")
            if len(posted) % 3 == 2:
                return httpx.Response(503, json=full, headers={"Retry-After": "2"})
            first_events = sse(job_id, 1, "job.created") + sse(job_id, 2, "job.running")  # ends early
            return httpx.Response(200, text=first_events, headers=stream)
        if request.url.path == f"/jobs/{job_id}":
            return httpx.Response(503, json=full)  # the job, read after the stream ended early
        return httpx.Response(200, text=sse(job_id, 3, "job.succeeded"), headers=stream)

    with Client("http://api.test", transport=httpx.MockTransport(api)) as client:
        events = client.submit_and_follow("Write a note", idempotency_key="order-7")
        assert [(e.id, e.job_id) for e in events] == [(1, job_id), (2, job_id), (3, job_id)]
        assert [(r.method, r.url.path) for r in sent] == [
            ("POST", "/jobs"),
            ("POST", "/jobs"),
            ("POST", "/jobs"),
            ("GET", f"/jobs/{job_id}"),
            ("GET", f"/jobs/{job_id}/events"),
        ]
        posts = sent[:3]
        assert [r.headers["idempotency-key"] for r in posts] == ["order-7"] * 3
        assert all(r.headers["accept"] == "text/event-stream" for r in posts)
        assert len({r.content for r in posts}) == 1, "the same body each time"
        assert sent[-1].headers["last-event-id"] == "2", "resumed after the last event"
        assert posted[2] - posted[1] >= 1.9, posted  # as long as the 503 asked (a lower bound: never flaky)

        # Without a key given, one is made, and kept for every try.
        sent.clear()
        assert [e.id for e in client.submit_and_follow("Write a note")] == [1, 2, 3]
        keys = [r.headers["idempotency-key"] for r in sent if r.method == "POST"]
        assert keys == [keys[0]] * 3
        assert UUID(keys[0]).version == 4


def test_submit_and_follow_raises_a_refusal_at_once() -> None:
    sent: list[str] = []
    invalid = {"error": {"code": "validation_error", "message": "priority: too high", "details": []}}

    def api(request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.method} {request.url.path}")
        if request.headers["idempotency-key"] == "old":
            return httpx.Response(201, json={"id": str(uuid4())})  # an API from before the stream answer
        return httpx.Response(422, json=invalid)

    with Client("http://api.test", transport=httpx.MockTransport(api)) as client:
        with pytest.raises(ValidationFailed, match=r"^priority: too high$"):
            list(client.submit_and_follow("Write a note", priority=12))
        assert sent == ["POST /jobs"]
        with pytest.raises(PlanwrightError, match="not the job's events"):
            list(client.submit_and_follow("Write a note", idempotency_key="old"))
        assert sent == ["POST /jobs", "POST /jobs"]


async def test_the_async_client(server: str, tmp_path: Path) -> None:
    async with AsyncClient(server) as client:
        job = await client.submit(DEMO_GOAL)
        done = await client.wait(job.id)
        assert done.status == "succeeded"
        whole = [e.id async for e in client.events(job.id)]
        (artifact,) = await client.artifacts(job.id)
        assert (
            await client.download(artifact) == (await client.download(artifact, tmp_path / "a")).read_bytes()
        )
        failing = await client.submit(FAILING_GOAL)
        with pytest.raises(JobFailed):
            await client.wait(failing.id)
    async with httpx.AsyncClient() as raw:
        size = len((await raw.get(f"{server}/jobs/{job.id}/events")).content)
    with Proxy(server) as proxy:
        proxy.cut_after(size // 2)
        async with AsyncClient(proxy.url) as through:
            assert [e.id async for e in through.events(job.id)] == whole
        assert (proxy.cuts, proxy.connections) == (1, 2)


async def test_the_async_client_submits_and_follows(server: str) -> None:
    async with AsyncClient(server) as client:
        got = [e async for e in client.submit_and_follow(DEMO_GOAL)]
        assert (got[0].type, got[-1].type) == ("job.created", "job.succeeded")
        assert_gap_free([e.id for e in got])
        assert [(e.id, e.type) for e in got] == [(e.id, e.type) async for e in client.events(got[0].job_id)]


def test_an_explicit_plan_with_references(server: str) -> None:
    """Needs explicit plans in POST /jobs."""
    with Client(server) as client:
        job = client.submit(plan=PLAN)
        assert job.goal, "a goal derived from the tasks"
        done = client.wait(job.id, timeout=60)
        assert done.plan is not None
        assert [t.key for t in done.plan.tasks] == ["draft", "summary", "save"]
        tasks = {t.key: t for t in client.tasks(job.id)}
        summary = tasks["summary"].output
        assert summary is not None
        (artifact,) = client.artifacts(job.id)
        # The reference, not the default (the dependencies' texts, joined, with a newline at the end).
        assert client.download(artifact).decode() == summary["text"]

        listed = client.submit("Notes on queues", plan=PLAN["tasks"])
        assert client.wait(listed.id, timeout=60).goal == "Notes on queues"
        broken = {"tasks": [{**PLAN["tasks"][0], "args": {"prompt": ""}}]}
        with pytest.raises(ValidationFailed) as invalid:
            client.submit(plan=broken)
        assert "draft" in invalid.value.message
        assert "prompt" in invalid.value.message


# --- a server with keys, and a task that waits for approval


def test_a_keyed_api_needs_the_key(keyed: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    base, key = keyed
    with Client(base, api_key="") as anonymous, pytest.raises(Unauthorized) as refused:
        anonymous.jobs()
    assert refused.value.message.startswith("this API needs an API key")
    with (
        Client(base, api_key="pw_not-a-key") as wrong,
        pytest.raises(Unauthorized, match="unknown or revoked"),
    ):
        wrong.submit("Write a note")
    monkeypatch.setenv("PLANWRIGHT_API", base)
    monkeypatch.setenv("PLANWRIGHT_API_KEY", key)
    with Client() as client:
        job = client.submit("Write a short note about queues")
        assert client.wait(job.id, timeout=60).status == "succeeded"
        assert client.jobs().items[0].id == job.id


def test_approve_while_the_live_stream_is_cut(keyed: tuple[str, str]) -> None:
    base, key = keyed
    with Client(base, key) as client, Proxy(base) as proxy, Client(proxy.url, key) as through:
        job = client.submit(DEMO_GOAL)
        got = []
        for event in through.events(job.id):
            got.append((event.id, event.type))
            if event.type == "task.awaiting_approval":
                with pytest.raises(WaitTimeout):  # nothing happens until a person answers
                    client.wait(job.id, timeout=0.5)
                proxy.cut()  # the stream is live: the rest happens while it is down
                assert event.task_id is not None
                approved = client.approve(event.task_id, comment="fine")
                assert approved.policy_decisions[-1].decided_by == "ci"
        assert (proxy.cuts, proxy.connections) == (1, 2)
        assert got == [(e.id, e.type) for e in client.events(job.id)]
        assert_gap_free([i for i, _ in got])
        assert got[-1][1] == "job.succeeded"
        assert client.wait(job.id).status == "succeeded"


def test_a_rejected_task_fails_the_job(keyed: tuple[str, str]) -> None:
    base, key = keyed
    with Client(base, key) as client:
        job = client.submit(DEMO_GOAL)
        task_id = awaiting_approval(client, job.id)
        rejected = client.reject(task_id, comment="not this file")
        assert rejected.status == "failed"
        with pytest.raises(JobFailed) as failed:
            client.wait(job.id, timeout=60)
        assert failed.value.job.status == "failed"
        with pytest.raises(Conflict):
            client.reject(task_id)


# --- the CLI, on the client


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"PLANWRIGHT_API_KEY": None})


def test_cli_submit_refuses_a_plan_it_cannot_read(tmp_path: Path) -> None:
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("tasks: [unclosed\n")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{'tasks': []}")
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just words\n")
    for path, message in [
        (tmp_path / "missing.yaml", "cannot read the plan"),
        (bad_yaml, "cannot parse the plan"),
        (bad_json, "cannot parse the plan"),
        (scalar, "must be a mapping with a list of tasks, or a list of tasks"),
    ]:
        result = cli("submit", "--plan", str(path), "--api", "http://127.0.0.1:9")
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("planwright: ")
        assert message in result.stderr
    result = cli("submit", "--api", "http://127.0.0.1:9")
    assert result.exit_code == 2
    assert "give a goal, or a plan with --plan" in result.stderr
    nowhere = f"http://127.0.0.1:{free_port()}"
    result = cli("submit", "Write a note", "--api", nowhere)
    assert result.exit_code == 2
    assert f"planwright: cannot reach the API at {nowhere}" in result.stderr


def test_cli_retry(server: str) -> None:
    with Client(server) as client:
        job = client.submit(FAILING_GOAL)
        with pytest.raises(JobFailed):
            client.wait(job.id, timeout=60)
        fetch = client.tasks(job.id)[0]
    result = cli("retry", str(fetch.id), "--api", server)
    assert result.exit_code == 0, result.stderr
    assert re.fullmatch(rf"task {fetch.key} is \w+ \(attempt {fetch.attempt + 1}\)\n", result.stdout)
    result = cli("retry", str(uuid4()), "--api", server)
    assert result.exit_code == 1
    assert re.fullmatch(r"planwright: task \S+ not found\n", result.stderr)


def test_cli_submit_a_plan_file_and_follow_it(server: str, tmp_path: Path) -> None:
    """Needs explicit plans in POST /jobs."""
    import yaml

    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump(PLAN))
    result = cli("submit", "--plan", str(plan), "--follow", "--api", server)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"job \S+ pending", lines[0])
    assert re.fullmatch(r"\[\d\d:\d\d:\d\d\] job created", lines[1])
    assert (
        "plan v1: draft (text_generate), summary (text_summarize), save (file_write_artifact)"
        in result.stdout
    )
    assert any(line.endswith("] job succeeded") for line in lines)
    assert "planwright download" in lines[-1]  # the result ends with the artifact's download command


ASK_PLAN = {
    "tasks": [
        {
            "key": "ask",
            "title": "Ask for the language",
            "tool": "ask_human",
            "args": {"question": "Which language?", "choices": ["Python", "Go"]},
        },
        {
            "key": "count",
            "title": "Ask for a count",
            "tool": "ask_human",
            "args": {"question": "How many?", "schema": {"type": "integer", "minimum": 1}},
            "depends_on": ["ask"],
        },
        {
            "key": "save",
            "title": "Save the answers",
            "tool": "file_write_artifact",
            "args": {"name": "answers.txt"},
            "depends_on": ["ask", "count"],
        },
    ]
}


def awaiting_input(client: Client, job_id: UUID, key: str) -> UUID:
    deadline = time.monotonic() + 60
    while True:
        for task in client.tasks(job_id):
            if task.key == key and task.status == "awaiting_input":
                return task.id
        assert time.monotonic() < deadline, f"task {key} never awaited input"
        time.sleep(0.05)


def test_cli_answer_by_choice_and_as_json(server: str) -> None:
    with Client(server) as client:
        job = client.submit(None, plan=ASK_PLAN)
        ask = awaiting_input(client, job.id, "ask")
        refused = cli("answer", str(ask), "Rust", "--api", server)
        assert refused.exit_code == 1
        assert refused.stderr == ("planwright: answer: \"Rust\" is not one of the choices: 'Python', 'Go'\n")
        assert cli("answer", str(ask), "--api", server).exit_code == 2  # no answer at all
        chosen = cli("answer", str(ask), "Go", "--api", server)
        assert (chosen.exit_code, chosen.stdout) == (0, "task ask is succeeded\n")
        count = awaiting_input(client, job.id, "count")
        assert cli("answer", str(count), "--json", "{", "--api", server).exit_code == 2
        too_few = cli("answer", str(count), "--json", "0", "--api", server)
        assert (too_few.exit_code, too_few.stderr) == (
            1,
            "planwright: answer: 0 is less than the minimum of 1\n",
        )
        assert cli("answer", str(count), "--json", "3", "--api", server).exit_code == 0
        done = client.wait(job.id, timeout=60)
        again = cli("answer", str(count), "--json", "3", "--api", server)
        assert again.exit_code == 1
        assert "only a task awaiting input can be answered" in again.stderr
        (artifact,) = client.artifacts(job.id)
        assert client.download(artifact.id) == b"Go\n\n3\n"
    assert done.status == "succeeded"


def test_submit_follow_prints_the_question_and_how_to_answer(server: str, tmp_path: Path) -> None:
    plan = tmp_path / "ask.json"
    plan.write_text(json.dumps({"tasks": ASK_PLAN["tasks"][:1]}))

    def answer_when_asked() -> None:
        with Client(server) as client:
            for _ in range(600):
                jobs = [j for j in client.jobs(limit=5).items if j.goal.startswith("Run a plan of 1 task")]
                waiting = [
                    t
                    for j in jobs
                    for t in client.tasks(j.id)
                    if t.status == "awaiting_input" and t.key == "ask"
                ]
                if waiting:
                    client.answer(waiting[0].id, "Python")
                    return
                time.sleep(0.1)

    helper = threading.Thread(target=answer_when_asked)
    helper.start()
    try:
        result = cli("submit", "--plan", str(plan), "--follow", "--api", server)
    finally:
        helper.join(timeout=90)
    assert result.exit_code == 0, result.output
    assert "ask                      awaiting input: Which language?" in result.stdout
    assert "    choices: Python, Go" in result.stdout
    assert re.search(r"    answer with: planwright answer \S+ Python\n", result.stdout)
    assert "Python" in result.stdout.split("result", 1)[1]


def test_submit_and_follow_gives_up_as_submit_does_when_the_api_is_not_there() -> None:
    sent: list[str] = []

    def api(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers["idempotency-key"])
        raise httpx.ConnectError("connection refused")

    with Client("http://api.test", transport=httpx.MockTransport(api)) as client:
        with pytest.raises(ConnectionFailed, match="connection refused"):
            list(client.submit_and_follow("Write a note"))
        tries, sent[:] = list(sent), []
        assert len(set(tries)) == 1, tries  # one Idempotency-Key for every try
        with pytest.raises(ConnectionFailed, match="connection refused"):
            client.submit("Write a note")
        assert len(tries) == len(sent) == 3, (tries, sent)  # as often as submit tries, not `reconnects` (10)
