"""Waiting for processes that tests start: on a readiness signal, with a generous ceiling, failing at
once (with the process's output) if it exits first."""

from __future__ import annotations

import http.client
import itertools
import os
import random
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

# A ceiling, not an expectation: a loaded 2-core machine running the suite on several xdist workers can
# be many times slower than an idle one.
READY_S = 120.0


def free_port() -> int:
    """A port that is free now, for a server a test starts. Not one that ``bind`` to port 0 hands
    out: those come from the kernel's ephemeral range, where any outgoing connection (the suite's
    workers make thousands) can take the port before the server, seconds later, binds it ("Address
    already in use"). Instead a port below that range, in a block of its own for each xdist worker,
    so that tests running side by side never pick the same one."""
    block = _block()
    for _ in range(len(block)):
        port = block[next(_cursor) % len(block)]
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue  # taken (a server of this machine, or one this worker started before)
        return port
    raise RuntimeError(f"no free port in {block}")


_LOWEST = 10_000


def _block() -> range:
    """This xdist worker's ports: its share of those from ``_LOWEST`` up to the ephemeral range."""
    try:
        ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral = 32_768  # Linux's default
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(name[2:]) if name[2:].isdigit() else 0
    size = (ephemeral - _LOWEST) // max(workers, 1)
    return range(_LOWEST + index * size, _LOWEST + (index + 1) * size)


# Where this process starts in its block: another run soon after starts elsewhere, away from ports
# whose connections are still closing.
_cursor = itertools.count(random.randrange(1 << 16))


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
