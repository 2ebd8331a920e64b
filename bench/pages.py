"""W5's page: a long text served on loopback, for http_fetch to bring into a job as a large value."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.util import free_port

_SUBJECTS = ("The queue", "A worker", "The orchestrator", "Each event", "The planner", "A retry")
_VERBS = ("holds", "takes", "records", "unblocks", "orders", "repeats")
_OBJECTS = ("the next task", "one attempt", "what happened", "the job's plan", "a failed step", "the output")


def page_text(size: int) -> bytes:
    """``size`` bytes of plain sentences that vary (so a summary has something to pick, and the text
    compresses about as well as prose does, not as well as one line repeated)."""
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
    """Answers every GET with the same page of ``size`` bytes, on ``port`` (one the servers' policy
    lets http_fetch reach on loopback)."""

    def __init__(self, size: int, port: int | None = None) -> None:
        self.port = port or free_port()
        body = page_text(size)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
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

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/page"

    def __enter__(self) -> PageServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
