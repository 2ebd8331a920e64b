"""`make up-dist` as a person runs it, against a database and a Redis key prefix of the test's own:
with METRICS_PORT=0 no process serves /metrics, and a Ctrl-C (SIGINT to the terminal's process group)
stops every process quietly."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from planwright.core.db.tests.support import postgres_database
from tests import isolation
from tests.processes import answers, free_port, wait_until

REPO = Path(__file__).parents[2]
SERVICES = ("planner", "worker1", "worker2", "critic", "policy")
# As a terminal starts a command: SIGINT at its default (an xdist worker may have it ignored).
AS_IN_A_TERMINAL = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp('make', sys.argv[1:])"
)

pytestmark = [pytest.mark.e2e, pytest.mark.distributed, pytest.mark.timeout(300)]


@dataclass(frozen=True)
class Stopped:
    listening: set[int]  # TCP ports the stack's processes listened on
    api_port: int
    output: str
    returncode: int


def descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in found]
        found.update(children)
        frontier += children
    return found


LISTEN, ESTABLISHED = "0A", "01"  # states in /proc/net/tcp


def tcp_sockets(pids: set[int]) -> list[tuple[str, int, int]]:
    """(state, local port, remote port) of every TCP socket that one of ``pids`` holds."""
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue  # it exited meanwhile
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                local, remote = (int(address.rsplit(":", 1)[1], 16) for address in fields[1:3])
                found.append((fields[3], local, remote))
    return found


def started_its_runtime(pid: int) -> bool:
    """Whether a service process is connected to Redis: it is past the step that would serve /metrics."""
    redis_port = urlsplit(isolation.REDIS_URL).port or 6379
    return any(state == ESTABLISHED and remote == redis_port for state, _, remote in tcp_sockets({pid}))


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stopped]:
    """`make up-dist METRICS_PORT=0` on a free API port, once every process runs, stopped by a Ctrl-C."""
    if shutil.which("make") is None or shutil.which("uv") is None:
        pytest.skip("make and uv are needed")
    with contextlib.ExitStack() as cleanup:
        try:
            database_url = cleanup.enter_context(postgres_database())
        except OSError as exc:
            if os.environ.get("CI"):
                raise
            pytest.skip(f"Postgres is not reachable: {exc}")
        log = tmp_path_factory.mktemp("up-dist") / "make.log"
        api_port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": isolation.REDIS_URL,
            "REDIS_KEY_PREFIX": isolation.key_prefix(),
            "PLANWRIGHT_DATA_DIR": str(log.parent / "data"),
            "METRICS_PORT": "0",
            "POLICY_GATE_ENABLED": "true",  # else the policy process idles, connected to nothing
        }
        command = ["make", "--no-print-directory", "up-dist", f"API_PORT={api_port}"]
        with log.open("w") as out:  # the child keeps its own descriptor
            proc = subprocess.Popen(
                [sys.executable, "-c", AS_IN_A_TERMINAL, *command],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        cleanup.callback(stop, proc)

        def output() -> str:
            return log.read_text(errors="replace")

        healthz = f"http://127.0.0.1:{api_port}/healthz"
        wait_until("the API of `make up-dist` to be healthy", lambda: answers(healthz), proc, output)
        started = re.compile(r"^\S+ system +\| (\w+)\.1 started \(pid=(\d+)\)", re.M)
        pids: dict[str, int] = {}

        def every_service_started() -> bool:
            pids.update((name, int(pid)) for name, pid in started.findall(output()) if name in SERVICES)
            return len(pids) == len(SERVICES)

        wait_until("honcho to start every process", every_service_started, proc, output)
        wait_until(
            "every service to connect to Redis",
            lambda: all(started_its_runtime(pid) for pid in pids.values()),
            proc,
            output,
        )
        listening = {local for state, local, _ in tcp_sockets(descendants(proc.pid)) if state == LISTEN}
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground process group
        proc.wait(timeout=60)
        yield Stopped(listening, api_port, output(), proc.returncode)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """After a failure: a Ctrl-C (honcho then stops what it started), else SIGKILL for the whole tree.
    honcho starts each process in a session of its own, out of reach of a signal to make's group."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=60)
        return
    for pid in descendants(proc.pid) - {proc.pid}:  # make still runs: its tree is intact
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def test_metrics_port_0_turns_off_metrics_in_every_process(stopped: Stopped) -> None:
    assert stopped.listening == {stopped.api_port}, stopped.output
    assert "metrics on http" not in stopped.output


def test_ctrl_c_stops_every_service_quietly(stopped: Stopped) -> None:
    for name in SERVICES:
        assert f"{name}.1 stopped (rc=0)" in stopped.output, stopped.output
    assert "make: ***" not in stopped.output, stopped.output  # neither "Error 130" nor "Interrupt"
    assert "Traceback" not in stopped.output, stopped.output
    # make itself ends on the SIGINT it was sent, as a tool should (the shell shows 130, nothing more).
    assert stopped.returncode == -signal.SIGINT


def test_ctrl_c_stops_the_api_with_exit_code_0(stopped: Stopped) -> None:
    assert "api.1 stopped (rc=0)" in stopped.output, stopped.output
