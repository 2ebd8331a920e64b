"""Waiting for processes that tests start: on a readiness signal, with a generous ceiling, failing at
once (with the process's output) if it exits first."""

from __future__ import annotations

import http.client
import socket
import subprocess
import time
from collections.abc import Callable
from urllib.parse import urlsplit

# A ceiling, not an expectation: a loaded 2-core machine running the suite on several xdist workers can
# be many times slower than an idle one.
READY_S = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(
    what: str,
    ready: Callable[[], bool],
    proc: subprocess.Popen[bytes] | None = None,
    output: Callable[[], str] = str,
    ceiling_s: float = READY_S,
) -> float:
    """Poll ``ready`` until it is true and return the seconds it took; fail naming ``what`` after
    ``ceiling_s``, or at once if ``proc`` exits first, with the tail of ``output()`` either way."""
    start = time.monotonic()
    while not ready():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited ({proc.returncode}) first\n{tail(output())}")
        waited = time.monotonic() - start
        assert waited < ceiling_s, f"waited {ceiling_s:g}s for {what}\n{tail(output())}"
        time.sleep(0.05)
    return time.monotonic() - start


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def listens(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port``."""
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def answers(url: str) -> bool:
    """Whether a GET of ``url`` (plain HTTP) is answered with a 200. Cheap enough to poll: no client
    with TLS settings is built for it."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=5)
    try:
        conn.request("GET", parts.path or "/")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()
