"""Finding 1 (bounds): what one request may carry, against a real `planwright up`: the body's size
(refused while it is read), how long it may take to arrive, and how deep and large a job's context
may be."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from planwright.core.settings import CONTEXT_MAX_DEPTH, GOAL_MAX_CHARS
from tests.e2e.support import planwright_up

pytestmark = pytest.mark.e2e
BODY_TIMEOUT_S = 3
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("limits")
    env = {"PLANWRIGHT_UI_DIR": str(data / "no-ui"), "REQUEST_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S)}
    with planwright_up(data, **env) as url:
        yield url


@pytest.fixture
def api(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=60) as client:
        yield client


def _connect(base: str) -> socket.socket:
    url = urlsplit(base)
    sock = socket.create_connection((url.hostname, url.port), timeout=60)
    return sock


def _head(path: str, *headers: str) -> bytes:
    return ("\r\n".join([f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *headers]) + "\r\n\r\n").encode()


def _read_raw(sock: socket.socket, data: bytes = b"") -> bytes:
    """One whole response, ``data`` its first bytes if already read: read until its body is complete
    or the peer closes (the body may come in a segment of its own)."""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _parse(data: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body[: _length(data)])


def _read_response(sock: socket.socket) -> tuple[int, dict[str, object]]:
    """The status and JSON body of one response."""
    return _parse(_read_raw(sock))


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 1 << 30


def test_a_50mb_body_is_refused_413_before_it_is_sent(base: str) -> None:
    with _connect(base) as sock:
        sock.sendall(_head("/jobs", "Content-Type: application/json", f"Content-Length: {50 * 1024 * 1024}"))
        status, body = _read_response(sock)  # not a byte of the body was sent
    assert status == 413
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == "request_too_large"
    assert "1048576 bytes" in error["message"]
    assert "MAX_REQUEST_BYTES" in error["message"]


def test_a_chunked_body_is_stopped_at_the_limit(base: str) -> None:
    chunk = b"x" * 65536
    frame = b"%x\r\n%b\r\n" % (len(chunk), chunk)
    with _connect(base) as sock:
        sock.sendall(_head("/jobs", "Content-Type: application/json", "Transfer-Encoding: chunked"))
        sent = 0
        sock.settimeout(0.05)
        response = b""
        # Keep sending until the server answers; it must answer once a little over 1 MiB arrived,
        # never wait for the (endless) rest.
        while not response:
            try:
                sock.sendall(frame)
                sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            with contextlib.suppress(TimeoutError):
                response = sock.recv(65536)
            assert sent < 64 * 1024 * 1024, "the server read 64 MiB of a body over a 1 MiB limit"
        sock.settimeout(60)
        data = _read_raw(sock, response)
        # Then the server closes: the rest of the body would still be on its way, and the connection
        # cannot carry another request.
        with contextlib.suppress(ConnectionResetError):
            assert sock.recv(65536) == b""
    head_lines = data.partition(b"\r\n\r\n")[0].lower().split(b"\r\n")
    assert b"connection: close" in head_lines, data[:300]
    status, body = _parse(data)
    assert status == 413, body
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == "request_too_large"


def test_a_body_dripped_slowly_gets_408(base: str) -> None:
    started = time.monotonic()
    with _connect(base) as sock:
        sock.sendall(_head("/jobs", "Content-Type: application/json", "Content-Length: 1000"))
        sock.settimeout(0.5)
        response = b""
        while not response:
            assert time.monotonic() - started < 60, "no answer to a body dripping in for 60s"
            try:
                sock.sendall(b" ")  # a byte at a time: the body would take 500s
                response = sock.recv(65536)
            except TimeoutError:
                continue
        sock.settimeout(60)
        response = _read_raw(sock, response)
    assert response.startswith(b"HTTP/1.1 408"), response[:200]
    assert b"request_timeout" in response
    assert b"REQUEST_BODY_TIMEOUT_S" in response
    assert time.monotonic() - started >= BODY_TIMEOUT_S


def test_a_body_under_the_limit_is_served(api: httpx.Client) -> None:
    # Close to the limit, with a context under its own: the body bound is not in the way.
    context = {"notes": "n" * 60_000}
    resp = api.post("/jobs", json={"goal": "Summarize the notes", "context_json": context})
    assert resp.status_code == 201, resp.text
    resp = api.post("/jobs", content=json.dumps({"goal": "x" * (GOAL_MAX_CHARS + 1)}), headers=JSON)
    assert resp.status_code == 422
    assert str(GOAL_MAX_CHARS) in resp.json()["error"]["message"]


def _nested(depth: int) -> dict[str, object]:
    value: object = 1
    for _ in range(depth - 1):
        value = [value]
    return {"a": value}


@pytest.mark.parametrize("depth", [CONTEXT_MAX_DEPTH + 1, 200, 400, 900])
def test_context_deeper_than_the_limit_is_422(api: httpx.Client, depth: int) -> None:
    # (Built as text: the attack's depths are past what a client's own json.dumps may nest.)
    body = '{{"goal": "Summarize it", "context_json": {{"a": {}1{}}}}}'.format(
        "[" * (depth - 1), "]" * (depth - 1)
    )
    resp = api.post("/jobs", content=body, headers=JSON)
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert "context_json" in error["message"]
    assert f"limit of {CONTEXT_MAX_DEPTH}" in error["message"]


def test_context_at_the_depth_limit_is_accepted(api: httpx.Client) -> None:
    resp = api.post("/jobs", json={"goal": "Summarize it", "context_json": _nested(CONTEXT_MAX_DEPTH - 1)})
    assert resp.status_code == 201, resp.text
    job = api.get(f"/jobs/{resp.json()['id']}/events", timeout=60)  # the job runs to its end
    assert "job.succeeded" in job.text


def test_context_larger_than_the_limit_is_422(api: httpx.Client) -> None:
    resp = api.post("/jobs", json={"goal": "Summarize it", "context_json": {"notes": "n" * 70_000}})
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["details"]["field"] == "context_json"
    assert error["details"]["limit"] == 65536
    assert "CONTEXT_MAX_BYTES" in error["message"]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_numbers_no_database_stores_are_422(api: httpx.Client, number: str) -> None:
    body = f'{{"goal": "Summarize it", "context_json": {{"a": {number}}}}}'
    resp = api.post("/jobs", content=body, headers=JSON)
    assert resp.status_code == 422, resp.text


@pytest.mark.parametrize(
    "body",
    ["[" * 100_000, '{"goal": ' + "[" * 100_000, '{"goal": "x", "context_json": {"a": ' + "{" * 50_000],
    ids=["brackets", "in-goal", "in-context"],
)
def test_parser_bombs_are_a_4xx(api: httpx.Client, body: str) -> None:
    resp = api.post("/jobs", content=body, headers=JSON)
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.json()["error"]["message"]
    assert api.get("/healthz").status_code == 200
