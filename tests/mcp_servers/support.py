"""Running the fixture MCP servers from tests: config entries, an HTTP server process, waiting."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.processes import READY_S, listens, wait_until
from tests.processes import free_port as free_port  # re-exported: the MCP tests take it from here

NOTES = Path(__file__).with_name("notes.py")


def stdio_entry(**extra: Any) -> dict[str, Any]:
    """A config entry that runs the notes server over stdio with this interpreter."""
    return {"transport": "stdio", "command": sys.executable, "args": [str(NOTES)], **extra}


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie, exited but not reaped, counts as alive)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "X"


@contextmanager
def notes_over_http(port: int, token: str | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """The notes server on 127.0.0.1:``port``/mcp, once it accepts connections; stopped afterwards."""
    args = [sys.executable, str(NOTES), "--http", str(port), *(["--token", token] if token else [])]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(
            f"the notes HTTP server to listen on {port}", lambda: listens(port), proc, lambda: _errors(proc)
        )
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def _errors(proc: subprocess.Popen[bytes]) -> str:
    # Read only once it has exited: reading a live process's pipe would wait for it to end.
    return proc.stderr.read().decode() if proc.stderr and proc.poll() is not None else ""


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], what: str | Callable[[], str], timeout_s: float = READY_S
) -> None:
    """Wait until ``check()`` is true, polling; fail saying what was awaited (``what()`` at that time)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result if isinstance(result, bool) else await result:
            return
        assert time.monotonic() < deadline, (
            f"waited {timeout_s:g}s for {what if isinstance(what, str) else what()}"
        )
        await asyncio.sleep(0.05)


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def notes_children(parent: int | None = None) -> list[int]:
    """The child processes of ``parent`` (default: this process) that run the notes server."""
    parent = os.getpid() if parent is None else parent
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if (
                str(NOTES).encode() in (stat.parent / "cmdline").read_bytes()
                and parent_of(int(stat.parent.name)) == parent
            ):
                found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def wait_for(what: str, check: Callable[[], Any]) -> Any:
    """Poll ``check`` until it returns something truthy (which is returned); fail naming ``what``."""
    deadline = time.monotonic() + READY_S
    while not (found := check()):
        assert time.monotonic() < deadline, f"waited {READY_S:g}s for {what}"
        time.sleep(0.1)
    return found
