"""Pages the bench serves on loopback for http_fetch: W5's long text (a large value in a job), and
the server behind W4's held fetch (bench/sse_client.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.util import free_port

_SUBJECTS = ("The queue", "A worker", "The orchestrator", "Each event", "The planner", "A retry")
_VERBS = ("holds", "takes", "records", "unblocks", "orders", "repeats")
_OBJECTS = ("the next task", "one attempt", "what happened", "the job's plan", "a failed step", "the output")


def page_text(size: int) -> bytes:
    """``size`` bytes of plain sentences that vary, so that the text compresses more like prose than
    like one line repeated (Postgres compresses it on the way: W5 measures that too)."""
    sentences = []
    length, n = 0, 0
    while length < size:
        sentence = (
            f"{_SUBJECTS[n % 6]} {_VERBS[(n // 6) % 6]} {_OBJECTS[(n // 36) % 6]} "
            f"in step {n} of run {n * 7919 % 1000}. "
        )
        sentences.append(sentence)
        length += len(sentence)
        n += 1
    return "".join(sentences).encode()[:size]


class PageServer:
    """Answers every GET with the same ``body`` on loopback, at ``port`` (for http_fetch: one the
    servers' policy lets it reach); ``before``, if given, runs first in the request's thread (W4
    holds its requests there)."""

    def __init__(
        self, body: bytes, port: int | None = None, before: Callable[[], None] | None = None
    ) -> None:
        self.port = port or free_port()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if before is not None:
                    before()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # quiet
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def __enter__(self) -> PageServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
