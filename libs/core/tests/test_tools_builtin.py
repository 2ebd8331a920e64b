import contextlib
import re
import socket
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from planwright.core.artifacts import ArtifactStore
from planwright.core.errors import RetryableToolError, ToolError
from planwright.core.llm import LLMClient, MockProvider
from planwright.core.llm.mock import NOTICE_LINE
from planwright.core.netguard import STRICT, NetPolicy, parse_networks
from planwright.core.text import split_sentences
from planwright.core.tool_registry import ToolCall
from planwright.core.tools_builtin import default_registry

SEED_GOAL = (
    "Generate an implementation checklist for adding a new tool, then write a tools.md draft file "
    "as an artifact, then summarize it."
)
PAGE = (
    "<html><head><title>Planwright</title><style>body { margin: 0 }</style>"
    "<script>document.write('hidden')</script></head>"
    "<body><h1>Tools &amp; tasks</h1><p>Every task\n   names a tool.</p></body></html>"
)
BIG = b"0123456789" * 5_000


def mock_body(text):
    """The mock model's text after its first line, the notice that it is placeholder text."""
    assert text.startswith(f"{NOTICE_LINE}\n\n")
    return text.removeprefix(f"{NOTICE_LINE}\n\n")


class Recorder:
    """Collects progress messages and builds calls that share one artifact store."""

    def __init__(self, root):
        self.store = ArtifactStore(root)
        self.messages = []
        self.task_id = uuid.uuid4()
        self.net_policy = STRICT

    async def progress(self, message):
        self.messages.append(message)

    def call(self, args, inputs=None, feedback=None, llm=None, net_policy=None):
        return ToolCall(
            job_id=uuid.uuid4(),
            task_id=self.task_id,
            attempt=1,
            goal=SEED_GOAL,
            args=args,
            inputs=inputs or {},
            artifacts=self.store,
            llm=llm or LLMClient(MockProvider()),
            progress=self.progress,
            feedback=feedback,
            net_policy=net_policy or self.net_policy,
        )


def loopback(port):
    """The network guard's opt-in for a test server on 127.0.0.1:port (as a policy file would give)."""
    return NetPolicy(private_networks=parse_networks(["127.0.0.0/8"]), extra_ports=frozenset({port}))


class PromptRecorder:
    name = "recorder"

    def __init__(self):
        self.prompts = []

    async def complete(self, prompt, *, system=None, on_text=None):
        self.prompts.append(prompt)
        return "ok"

    async def summarize(self, text, *, max_sentences=3, on_text=None):
        return text


@pytest.fixture
def rec(tmp_path):
    return Recorder(tmp_path / "artifacts")


@pytest.fixture
def registry():
    return default_registry()


def stored_files(store):
    return [p for p in store.root.rglob("*") if p.is_file()] if store.root.exists() else []


# text_generate


async def test_text_generate_writes_the_seed_checklist(rec, registry):
    out = await registry.run(rec.call({"prompt": "Create checklist"}), "text_generate")
    text = out["text"]
    assert text.startswith(f"{NOTICE_LINE}\n\n# ")
    items = re.findall(r"^- \[ \] .+$", text, re.MULTILINE)
    assert 6 <= len(items) <= 10
    assert any("libs/core/tool_registry.py" in item for item in items)
    assert any("docs/tools.md" in item for item in items)
    assert rec.messages == ["asking mock model", f"generated {len(text)} characters"]


async def test_text_generate_prompt_carries_goal_inputs_and_feedback_in_order(rec, registry):
    llm = PromptRecorder()
    inputs = {"checklist": {"text": "- [ ] step one"}, "fetch": {"status_code": 200}, "b": {"text": "B"}}
    call = rec.call({"prompt": "Write the draft", "format": "text"}, inputs, "Add an example.", llm)
    assert await registry.run(call, "text_generate") == {"text": "ok"}
    assert llm.prompts == [
        "Write the draft\n\n"
        f"Job goal: {SEED_GOAL}\nOutput format: text\n\n"
        "Input from task 'checklist':\n- [ ] step one\n\n"
        "Input from task 'b':\nB\n\n"
        "Reviewer feedback to address:\nAdd an example."
    ]


async def test_text_generate_rework_addresses_the_feedback(rec, registry):
    call = rec.call({"prompt": "Create checklist"}, feedback="Mention the policy file.")
    text = (await registry.run(call, "text_generate"))["text"]
    assert "- Addressed: Mention the policy file." in text


@pytest.mark.parametrize("args", [{"prompt": ""}, {"prompt": "x" * 10_001}, {"prompt": "x", "format": "pdf"}])
async def test_text_generate_refuses_bad_args(rec, registry, args):
    with pytest.raises(ToolError, match="invalid args for tool 'text_generate'"):
        await registry.run(rec.call(args), "text_generate")


# file_write_artifact


async def test_file_write_artifact_stores_the_dependencies_text(rec, registry):
    inputs = {"checklist": {"text": "# Checklist\n- [ ] a\n"}, "notes": {"text": "More notes."}}
    out = await registry.run(rec.call({"name": "tools.md"}, inputs), "file_write_artifact")
    expected = b"# Checklist\n- [ ] a\n\nMore notes.\n"
    assert out == {
        "name": "tools.md",
        "sha256": out["sha256"],
        "size": len(expected),
        "media_type": "text/markdown",
    }
    assert rec.store.read(out["sha256"]) == expected
    assert rec.store.verify(out["sha256"])
    assert rec.messages == [f"wrote tools.md ({len(expected)} bytes)"]


async def test_file_write_artifact_repeated_call_is_idempotent(rec, registry):
    call = rec.call({"name": "tools.md"}, {"checklist": {"text": "same"}})
    first = await registry.run(call, "file_write_artifact")
    second = await registry.run(call, "file_write_artifact")
    assert first == second
    assert len(stored_files(rec.store)) == 1


async def test_file_write_artifact_explicit_content_and_media_type_win(rec, registry):
    args = {"name": "data.json", "content": '{"a": 1}', "media_type": "application/vnd.custom+json"}
    out = await registry.run(rec.call(args, {"x": {"text": "ignored"}}), "file_write_artifact")
    assert rec.store.read(out["sha256"]) == b'{"a": 1}'
    assert out["media_type"] == "application/vnd.custom+json"


async def test_file_write_artifact_without_content_or_text_inputs_fails(rec, registry):
    with pytest.raises(ToolError, match="nothing to write") as caught:
        await registry.run(rec.call({"name": "a.md"}, {"fetch": {"status_code": 200}}), "file_write_artifact")
    assert not isinstance(caught.value, RetryableToolError)


@pytest.mark.parametrize("name", ["../tools.md", "/etc/passwd", "a/b.md", ".env", "a\x00b"])
async def test_file_write_artifact_refuses_unsafe_names_and_writes_nothing(rec, registry, name):
    with pytest.raises(ToolError, match=r"args\.name: artifact name"):
        await registry.run(rec.call({"name": name, "content": "x"}), "file_write_artifact")
    assert stored_files(rec.store) == []


# text_summarize


async def test_demo_chain_summarizes_the_artifact_deterministically(rec, registry):
    checklist = await registry.run(rec.call({"prompt": "Create checklist"}), "text_generate")
    artifact = await registry.run(
        rec.call({"name": "tools.md"}, {"checklist": checklist}), "file_write_artifact"
    )
    # The text input comes first but is unrelated: the artifact must be what gets summarized.
    inputs = {"other": {"text": "Bananas are yellow."}, "write": artifact}
    first = await registry.run(rec.call({}, inputs), "text_summarize")
    second = await registry.run(rec.call({}, inputs), "text_summarize")
    assert first == second
    assert first["source"] == "artifact:tools.md"
    sentences = split_sentences(mock_body(first["text"]))
    assert len(sentences) == 3
    assert "Bananas" not in first["text"]
    assert all(s.rstrip(".") in checklist["text"] for s in sentences)


async def test_text_summarize_falls_back_to_the_first_text_input(rec, registry):
    inputs = {"fetch": {"status_code": 200}, "notes": {"text": "One. Two. Three."}, "b": {"text": "Other."}}
    out = await registry.run(rec.call({"max_sentences": 1}, inputs), "text_summarize")
    assert out == {"text": f"{NOTICE_LINE}\n\nOne.", "source": "task:notes"}


async def test_text_summarize_prefers_explicit_text(rec, registry):
    out = await registry.run(rec.call({"text": "Explicit text."}, {"a": {"text": "x"}}), "text_summarize")
    assert out == {"text": f"{NOTICE_LINE}\n\nExplicit text.", "source": "args"}


@pytest.mark.parametrize(
    ("args", "inputs", "message"),
    [
        ({}, {}, "nothing to summarize: pass args.text"),
        ({"text": "   "}, {}, "nothing to summarize: args is empty"),
        (
            {},
            {"write": {"name": "gone.md", "sha256": "0" * 64}},
            "artifact gone.md .* is not in the artifact",
        ),
        ({}, {"write": {"name": "bad.md", "sha256": "not-a-hash"}}, "is not in the artifact store"),
    ],
)
async def test_text_summarize_failures(rec, registry, args, inputs, message):
    with pytest.raises(ToolError, match=message):
        await registry.run(rec.call(args, inputs), "text_summarize")


async def test_text_summarize_refuses_binary_artifacts(rec, registry):
    stored = rec.store.put("blob.bin", b"\xff\xfe\x00binary")
    inputs = {"write": {"name": "blob.bin", "sha256": stored.sha256}}
    with pytest.raises(ToolError, match=r"blob\.bin is not UTF-8 text"):
        await registry.run(rec.call({}, inputs), "text_summarize")


# http_fetch


class Handler(BaseHTTPRequestHandler):
    routes = {
        "/page": (200, "text/html; charset=utf-8", PAGE.encode()),
        "/big": (200, "text/plain", BIG),
        "/data.json": (200, "application/json", b'{"ok": true}'),
        "/image.png": (200, "image/png", b"\x89PNG\r\n\x1a\n"),
        "/missing": (404, "text/plain", b"not found"),
        "/broken": (500, "text/plain", b"boom"),
        "/busy": (429, "text/plain", b"slow down"),
    }

    def do_GET(self):
        if self.path in ("/redirect", "/to-ftp"):
            self.send_response(302)
            self.send_header("Location", "/page" if self.path == "/redirect" else "ftp://example.com/x")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, content_type, body = self.routes[self.path]
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # The client may stop reading at its byte cap.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def local_server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def server(local_server, rec):
    """The test server, which the network guard lets the tool reach (a loopback opt-in)."""
    rec.net_policy = loopback(int(local_server.rsplit(":", 1)[1]))
    return local_server


async def test_http_fetch_turns_html_into_text(rec, registry, server):
    out = await registry.run(rec.call({"url": f"{server}/page"}), "http_fetch")
    assert out == {
        "url": f"{server}/page",
        "status_code": 200,
        "content_type": "text/html; charset=utf-8",
        "text": "Planwright\nTools & tasks\nEvery task names a tool.",
        "bytes": len(PAGE.encode()),
        "truncated": False,
    }
    assert rec.messages == [f"fetching {server}/page", f"received {len(PAGE)} bytes, HTTP 200"]


async def test_http_fetch_follows_redirects(rec, registry, server):
    out = await registry.run(rec.call({"url": f"{server}/redirect"}), "http_fetch")
    assert out["url"] == f"{server}/page"
    assert out["text"].startswith("Planwright")


async def test_http_fetch_stops_at_the_requested_byte_cap(rec, registry, server):
    out = await registry.run(rec.call({"url": f"{server}/big", "max_bytes": 1000}), "http_fetch")
    assert (out["bytes"], out["truncated"]) == (1000, True)
    assert out["text"] == BIG[:1000].decode()
    assert rec.messages[-1] == "received 1000 bytes (truncated), HTTP 200"


async def test_http_fetch_cap_cannot_exceed_the_platform_limit(rec, server):
    registry = default_registry(http_fetch_max_bytes=100)
    out = await registry.run(rec.call({"url": f"{server}/big", "max_bytes": 10_000}), "http_fetch")
    assert (out["bytes"], out["truncated"]) == (100, True)


async def test_http_fetch_body_exactly_at_the_cap_is_not_truncated(rec, registry, server):
    out = await registry.run(rec.call({"url": f"{server}/big", "max_bytes": len(BIG)}), "http_fetch")
    assert (out["bytes"], out["truncated"]) == (len(BIG), False)


async def test_http_fetch_passes_json_through_and_blanks_binary(rec, registry, server):
    data = await registry.run(rec.call({"url": f"{server}/data.json"}), "http_fetch")
    image = await registry.run(rec.call({"url": f"{server}/image.png"}), "http_fetch")
    assert data["text"] == '{"ok": true}'
    assert (image["text"], image["bytes"]) == ("", 8)


async def test_http_fetch_client_error_is_final(rec, registry, server):
    with pytest.raises(ToolError, match=r"/missing answered HTTP 404$") as caught:
        await registry.run(rec.call({"url": f"{server}/missing"}), "http_fetch")
    assert not isinstance(caught.value, RetryableToolError)


@pytest.mark.parametrize(("path", "status"), [("/broken", 500), ("/busy", 429)])
async def test_http_fetch_server_errors_and_rate_limits_are_retryable(rec, registry, server, path, status):
    with pytest.raises(RetryableToolError, match=f"answered HTTP {status}$"):  # no "will retry": it may not
        await registry.run(rec.call({"url": f"{server}{path}"}), "http_fetch")


async def test_http_fetch_connection_refused_is_retryable(rec, registry):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    rec.net_policy = loopback(port)
    with pytest.raises(RetryableToolError, match="ConnectError"):
        await registry.run(rec.call({"url": f"http://127.0.0.1:{port}/"}), "http_fetch")


async def test_http_fetch_redirect_to_another_scheme_is_refused(rec, registry, server):
    with pytest.raises(ToolError) as caught:
        await registry.run(rec.call({"url": f"{server}/to-ftp"}), "http_fetch")
    assert not isinstance(caught.value, RetryableToolError)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "got scheme file"),
        ("ftp://example.com/x", "got scheme ftp"),
        ("javascript:alert(1)", "got scheme javascript"),
        ("example.com/page", "got scheme none"),
        ("http:///no-host", "the URL has no host name"),
        ("http://user:pw@example.com/", "the URL has user info"),
    ],
)
async def test_http_fetch_refuses_other_schemes_before_any_io(rec, registry, monkeypatch, url, message):
    def no_client(*args, **kwargs):
        raise AssertionError("no HTTP client may be created")

    monkeypatch.setattr(httpx, "AsyncClient", no_client)
    with pytest.raises(ToolError, match=message):
        await registry.run(rec.call({"url": url}), "http_fetch")
    assert rec.messages == []


def test_the_docs_give_each_built_in_tools_timeout_as_the_code_does(registry):
    """docs/tools.md (one "timeout: N s" per tool section) and docs/operations.md (one sentence) say
    what the tools' specs say."""
    docs = Path(__file__).parents[3] / "docs"
    operations = " ".join((docs / "operations.md").read_text().split())
    tools_md = (docs / "tools.md").read_text()
    for spec in registry.specs():
        timeout = f"{spec.timeout_s:g} s"
        assert f"`{spec.name}` {timeout}" in operations, spec.name
        section = tools_md.split(f"\n### {spec.name}\n", 1)[1].split("\n#", 1)[0]
        assert f"timeout: {timeout}" in section, spec.name


_IMPORTED_WHERE = """
import asyncio, sys, threading, time
from planwright.core.tools_builtin import _fetcher

assert "httpx" not in sys.modules, "httpx was loaded before any fetch"
where = []


class Where:
    def find_spec(self, name, path=None, target=None):
        if name == "httpx":
            where.append(threading.current_thread() is threading.main_thread())
            time.sleep(0.5)  # http_fetch is in sys.modules meanwhile, half made
        return None


sys.meta_path.insert(0, Where())

import ssl

built = []
made = ssl.create_default_context


def slow_context(*args, **kwargs):
    built.append(threading.current_thread() is threading.main_thread())
    time.sleep(0.3)  # the CA bundle, made slow
    return made(*args, **kwargs)


ssl.create_default_context = slow_context


async def main():
    first = asyncio.ensure_future(_fetcher())
    while "planwright.core.http_fetch" not in sys.modules:  # the first import is under way
        await asyncio.sleep(0.005)
    ticks = 0

    async def tick():
        nonlocal ticks
        while not first.done():
            ticks += 1
            await asyncio.sleep(0.01)

    # Another fetch starts while the module is half made; the loop goes on meanwhile.
    got = await asyncio.gather(first, _fetcher(), tick())
    from planwright.core.http_fetch import fetch

    assert got[0] is got[1] is fetch
    assert await _fetcher() is fetch
    assert ticks >= 5, ticks  # the loop ran while the import slept 0.5 s and the context 0.3 s
    print(where, built)


asyncio.run(main())
"""


def test_the_first_fetch_loads_httpx_and_its_tls_context_off_the_event_loops_thread():
    """httpx is imported lazily (idle RSS), and in a thread, and so is the TLS context built (its CA
    bundle): on the event loop, their ~0.2 s and ~30 ms would stop every stream and job of the
    process. A fetch that starts during that import waits for it (the module is in ``sys.modules``
    before it is wholly made) and for the one context."""
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTED_WHERE], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    # imported once and the context built once, neither on the main thread
    assert done.stdout.strip() == "[False] [False]", done.stdout
