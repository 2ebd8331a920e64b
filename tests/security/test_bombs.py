"""Finding 3 of issue 12 (decompression bombs), replayed: a 1 GiB gzip body (1 MB on the wire), the
same nested in a second gzip (about 2 KB on the wire), a 50 MB plain body and a slow drip.

Before: the byte cap applied after decoding and httpx chained decoders without limit, so a 2.6 KB
``Content-Encoding: gzip, gzip`` response took the server to 2.27 GB and stalled it for seconds. Now
one content coding at most, decoding stops at the cap, memory stays near the cap, the loop keeps
answering, and the whole fetch has a time limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import struct
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from planwright.core import http_fetch
from planwright.core.errors import RetryableToolError, ToolError
from planwright.core.tests.test_tools_builtin import Recorder, loopback
from planwright.core.tool_registry import ToolCall
from planwright.core.tools_builtin import default_registry
from planwright.services.api.tests.support import loopback_policy
from tests.e2e.support import planwright_up
from tests.local_http import serving

pytestmark = [pytest.mark.timeout(240)]

MIB = 1 << 20
CAP = 1_000_000  # HTTP_FETCH_MAX_BYTES's default
PAGE = b"Queues hold work. Workers take tasks. Results flow back."


@functools.cache
def gzip_bomb(mib: int = 1024) -> bytes:
    """A valid gzip body of ``mib`` MiB of "a", about 1 KB per MiB: a fully flushed deflate block
    repeats byte for byte, so it is built in a blink instead of compressing a gigabyte."""
    chunk = b"a" * MIB
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    unit = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(chunk, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + unit * mib + deflate.flush() + struct.pack("<II", crc, (mib * MIB) & 0xFFFFFFFF)


def gzip(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return packer.compress(data) + packer.flush()


def deflate(data: bytes, *, raw: bool) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15 if raw else 15)
    return packer.compress(data) + packer.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle(self) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client hung up: expected
            super().handle()

    def do_GET(self) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client stops at its cap
            getattr(self, "serve_" + self.path.strip("/").replace(".", "_").replace("-", "_"))()

    def send(self, body: bytes, *codings: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        for coding in codings:
            self.send_header("Content-Encoding", coding)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def serve_bomb(self) -> None:
        self.send(gzip_bomb(), "gzip")

    def serve_nested(self) -> None:
        self.send(gzip(gzip_bomb()), "gzip, gzip")  # the attack: 1 GiB in about 2 KB

    def serve_nested_headers(self) -> None:
        self.send(gzip(gzip_bomb()), "gzip", "gzip")

    def serve_brotli(self) -> None:
        self.send(b"\x0b\x02\x80hello\x03", "br")

    def serve_page_gz(self) -> None:
        self.send(gzip(PAGE), "gzip")

    def serve_page_zlib(self) -> None:
        self.send(deflate(PAGE, raw=False), "deflate")

    def serve_page_deflate(self) -> None:
        self.send(deflate(PAGE, raw=True), "deflate")

    def serve_page_identity(self) -> None:
        self.send(PAGE, "identity")

    def serve_big(self) -> None:
        """50 MB, plain, streamed."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(50 * MIB))
        self.end_headers()
        for _ in range(50):
            self.wfile.write(b"b" * MIB)

    def serve_drip(self) -> None:
        """A byte every 0.2 s: each read is quick, the whole body would take 20 s."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "100")
        self.end_headers()
        for _ in range(100):
            self.wfile.write(b"d")
            self.wfile.flush()
            time.sleep(0.2)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    gzip_bomb()  # built before any timing starts
    with serving(Handler) as url:
        yield url


def call(site: str, path: str) -> ToolCall:
    port = int(site.rsplit(":", 1)[1])
    return Recorder(Path("/nonexistent")).call({"url": f"{site}{path}"}, net_policy=loopback(port))


async def fetch(site: str, path: str) -> dict[str, Any]:
    return await default_registry(http_fetch_max_bytes=CAP).run(call(site, path), "http_fetch")


class LoopWatch:
    """The longest the event loop went without running a 10 ms ticker, while in use."""

    def __init__(self) -> None:
        self.worst = 0.0

    async def __aenter__(self) -> LoopWatch:
        self._task = asyncio.create_task(self._tick())
        return self

    async def _tick(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            self.worst = max(self.worst, now - last - 0.01)
            last = now

    async def __aexit__(self, *exc: object) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@pytest.mark.parametrize("path", ["/nested", "/nested-headers"])
async def test_more_than_one_content_coding_is_refused(site: str, path: str) -> None:
    with pytest.raises(ToolError) as refused:
        await fetch(site, path)
    assert not isinstance(refused.value, RetryableToolError)
    assert str(refused.value) == (
        f"{site}{path} sent a body with 2 content codings (gzip, gzip); at most one is accepted"
    )


async def test_an_unknown_content_coding_is_refused(site: str) -> None:
    with pytest.raises(ToolError, match="sent a body in content coding 'br', which cannot be decoded"):
        await fetch(site, "/brotli")


@pytest.mark.parametrize("path", ["/page.gz", "/page.zlib", "/page.deflate", "/page.identity"])
async def test_ordinary_codings_still_decode(site: str, path: str) -> None:
    out = await fetch(site, path)
    assert (out["text"], out["bytes"], out["truncated"]) == (PAGE.decode(), len(PAGE), False)


@pytest.mark.parametrize("path", ["/bomb", "/big"])
async def test_decoding_stops_at_the_cap_with_memory_near_the_cap_and_the_loop_free(
    site: str, path: str
) -> None:
    tracemalloc.start()
    try:
        async with LoopWatch() as loop:
            out = await fetch(site, path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (out["bytes"], out["truncated"], len(out["text"])) == (CAP, True, CAP)
    assert peak < 8 * CAP, f"the fetch held {peak / MIB:.0f} MiB at its peak (the body is 1 GiB or 50 MB)"
    assert loop.worst < 0.5, f"the event loop was blocked for {loop.worst:.2f}s"


async def test_a_slow_drip_stops_at_the_total_time_limit(site: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_fetch, "TOTAL_S", 1.0)
    started = time.monotonic()
    with pytest.raises(RetryableToolError, match=r"fetching .*/drip took longer than 1s"):
        await fetch(site, "/drip")
    assert time.monotonic() - started < 10  # the drip alone would take 20 s


# -- against a real planwright up -------------------------------------------------------------------


def vm_hwm_kib(port: int) -> int:
    """Peak resident memory of the `planwright up` serving ``port`` (from /proc)."""
    wanted = f"--port\0{port}\0".encode()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if (
                    b"planwright\0up\0" in (proc / "cmdline").read_bytes()
                    and wanted in (proc / "cmdline").read_bytes()
                ):
                    for line in (proc / "status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            return int(line.split()[1])
    raise AssertionError(f"no planwright up process serving port {port}")


@pytest.mark.e2e
def test_a_bomb_through_post_jobs_leaves_the_server_small_and_answering(
    site: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = tmp_path_factory.mktemp("bombs")
    policy = loopback_policy(data / "policy.yaml", int(site.rsplit(":", 1)[1]))
    with planwright_up(data, PLANWRIGHT_UI_DIR=str(data / "no-ui"), POLICY_CONFIG_PATH=str(policy)) as base:
        port = int(base.rsplit(":", 1)[1])
        before = vm_hwm_kib(port)
        latencies: list[float] = []
        done = threading.Event()

        def watch() -> None:
            with httpx.Client(timeout=30) as client:
                while not done.is_set():
                    started = time.perf_counter()
                    assert client.get(f"{base}/healthz").status_code == 200
                    latencies.append(time.perf_counter() - started)
                    time.sleep(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            jobs = {
                path: httpx.post(
                    f"{base}/jobs", json={"goal": f"Fetch {site}{path} then summarize it."}
                ).json()["id"]
                for path in ("/nested", "/bomb")
            }
            results = {}
            deadline = time.monotonic() + 120
            for path, job_id in jobs.items():
                while (job := httpx.get(f"{base}/jobs/{job_id}").json())["status"] not in (
                    "succeeded",
                    "failed",
                ):
                    assert time.monotonic() < deadline, f"the {path} job is still {job['status']} after 120s"
                    time.sleep(0.05)
                results[path] = httpx.get(f"{base}/jobs/{job_id}/tasks").json()[0]
        finally:
            done.set()
            watcher.join(timeout=60)
        after = vm_hwm_kib(port)
    nested, bomb = results["/nested"], results["/bomb"]
    assert nested["status"] == "failed"
    assert "2 content codings (gzip, gzip); at most one is accepted" in nested["error"]
    assert bomb["status"] == "succeeded", bomb["error"]
    assert (bomb["output"]["bytes"], bomb["output"]["truncated"]) == (CAP, True)
    grew = (after - before) / 1024
    assert grew < 150, f"peak RSS grew by {grew:.0f} MiB for a 1 MB cap (it was 2.27 GB before the fix)"
    assert latencies, "/healthz was never answered while the bombs were fetched"
    assert max(latencies) < 2.0, f"/healthz took {max(latencies):.2f}s while the bombs were fetched"
