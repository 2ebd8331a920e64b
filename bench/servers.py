"""Start and stop Planwright as subprocesses of this checkout: embedded (`planwright up`) or distributed
(`planwright api`, `planner`, `worker` over a fresh Postgres database and a private Redis key prefix)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx
import redis
import yaml

from bench.config import PG_ADMIN_URL, REDIS_URL, SERVER_ENV, SERVER_ENV_DROP
from bench.util import BenchError, free_port

HEALTHZ_CEILING_S = 60.0
REPO = Path(__file__).resolve().parents[1]  # the checkout bench/ sits in


@functools.cache
def hold_port() -> int:
    """The port of W4's held fetch (``HoldServer``), chosen once so that the servers' policy allows it."""
    return free_port()


def _fetch_policy(data_dir: Path) -> Path:
    """A copy of config/policy.yaml in which http_fetch may reach the bench's hold server on loopback
    (the network guard's opt-in, docs/tools.md); it refuses loopback otherwise."""
    policy = yaml.safe_load((REPO / "config" / "policy.yaml").read_text())
    for env in policy["environments"].values():
        fetch = env.setdefault("tools", {}).setdefault("http_fetch", {})
        fetch["allow_private_networks"] = ["127.0.0.0/8"]
        fetch["allowed_ports"] = [hold_port()]
    path = data_dir / "policy.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


def _base_env(data_dir: Path) -> dict[str, str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in SERVER_ENV_DROP}
    return {
        **env,
        **SERVER_ENV,
        "PLANWRIGHT_DATA_DIR": str(data_dir),
        "PLANWRIGHT_UI_DIR": str(data_dir / "no-ui"),
        "POLICY_CONFIG_PATH": str(_fetch_policy(data_dir)),
    }


def warm_up(tmp: Path) -> None:
    """Import the whole application once (``planwright openapi``), so that Python's bytecode cache is
    written and the start figures do not count compiling a fresh checkout. Best effort."""
    env = _base_env(tmp / "warm-up")
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            [sys.executable, "-m", "planwright", "openapi"],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )


class Stack:
    """Planwright processes sharing one environment; each logs to a file in ``tmp``."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.tmp = tmp
        self.env = env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.urls: dict[str, str] = {}  # API process name -> base URL
        self.start_s: dict[str, float] = {}  # API process name -> spawn to first 200 on /healthz

    @property
    def api(self) -> str:
        return next(iter(self.urls.values()))

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.procs.items()}

    def spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with (self.tmp / f"{name}.log").open("ab") as log:  # the child keeps its own descriptor
            proc = subprocess.Popen(
                [sys.executable, "-m", "planwright", *args],
                env=env or self.env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches only the bench, which stops these in order
            )
        self.procs[name] = proc
        return proc

    def spawn_api(self, name: str, *args: str) -> str:
        """Spawn an API process (``up`` or ``api``) on a free port; returns its URL once healthy."""
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        self.spawn(name, *args, "--host", "127.0.0.1", "--port", str(port))
        self.wait_ready(name, f"{base}/healthz")
        self.start_s[name] = time.monotonic() - started
        self.urls[name] = base
        return base

    def wait_ready(self, name: str, url: str) -> None:
        """Poll ``url`` until it answers 200 (the process has imported everything and serves)."""
        deadline = time.monotonic() + HEALTHZ_CEILING_S
        with httpx.Client(timeout=2) as client:
            while True:
                if self.procs[name].poll() is not None:
                    raise BenchError(f"{name} exited with {self.procs[name].returncode}:\n{self.log(name)}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get(url).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise BenchError(
                        f"{name} did not answer 200 on {url} within {HEALTHZ_CEILING_S:.0f}s:\n"
                        + self.log(name)
                    )
                time.sleep(0.01)

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise BenchError(f"{name} exited with {proc.returncode}:\n{self.log(name)}")

    def log(self, name: str, lines: int = 40) -> str:
        path = self.tmp / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name)
        self.urls.pop(name, None)
        _terminate([proc])

    def stop_all(self) -> None:
        _terminate(list(self.procs.values()))
        self.procs.clear()
        self.urls.clear()


def _terminate(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def embedded(tmp: Path) -> Iterator[Stack]:
    """``planwright up`` with a fresh SQLite file under ``tmp``."""
    stack = Stack(tmp, _base_env(tmp / "data"))
    try:
        stack.spawn_api("up", "up")
        yield stack
    finally:
        stack.stop_all()


class DistributedStack(Stack):
    def __init__(self, tmp: Path, database_url: str, prefix: str) -> None:
        env = _base_env(tmp / "data")
        env.update(DATABASE_URL=database_url, REDIS_URL=REDIS_URL, REDIS_KEY_PREFIX=prefix)
        super().__init__(tmp, env)

    def migrate(self) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "planwright", "migrate"],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise BenchError(f"planwright migrate failed:\n{done.stdout}\n{done.stderr}")

    def spawn_service(self, name: str) -> str:
        """Spawn a planner or worker process (``worker2`` is a second worker); returns its /metrics URL,
        which answers once the process has imported everything and is about to start consuming."""
        role = name.rstrip("0123456789")
        port = free_port()
        self.spawn(name, role, env={**self.env, "METRICS_PORT": str(port), "METRICS_HOST": "127.0.0.1"})
        return f"http://127.0.0.1:{port}/metrics"

    def start_service(self, name: str) -> None:
        """Spawn a planner or worker and wait until it is ready."""
        self.wait_ready(name, self.spawn_service(name))
        time.sleep(0.2)  # from serving /metrics to consuming its streams


@contextlib.contextmanager
def distributed(tmp: Path, database_url: str, prefix: str) -> Iterator[DistributedStack]:
    """``planwright api``, ``planner`` and ``worker``; the database must exist and be empty."""
    stack = DistributedStack(tmp, database_url, prefix)
    try:
        stack.migrate()
        metrics = {name: stack.spawn_service(name) for name in ("planner", "worker")}
        stack.spawn_api("api", "api")
        for name, url in metrics.items():
            stack.wait_ready(name, url)
        time.sleep(0.2)
        stack.check_alive()
        yield stack
    finally:
        stack.stop_all()


@contextlib.contextmanager
def stack_of(mode: str, tmp: Path) -> Iterator[Stack]:
    """``planwright up`` (``embedded``), or the API, planner and worker on a fresh database and key
    prefix of the bench's own (``distributed``), for the tools that run one workload in a loop."""
    if mode == "embedded":
        with embedded(tmp) as stack:
            yield stack
        return
    with bench_database() as db, redis_prefix() as prefix, distributed(tmp, db, prefix) as stack:
        yield stack


# -- the bench's own Postgres database and Redis key prefix -------------------------------------------


def _db_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def bench_database() -> Iterator[str]:
    """A fresh database ``pwbench_<random>``, dropped afterwards; yields its URL."""
    name = f"pwbench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield _db_url(name)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def redis_prefix() -> Iterator[str]:
    """A unique key prefix ``pwbench:<random>:``; its keys are deleted afterwards."""
    prefix = f"pwbench:{uuid.uuid4().hex[:12]}:"
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    client.ping()
    try:
        yield prefix
    finally:
        try:
            batch: list[bytes] = []
            for key in client.scan_iter(match=f"{prefix}*", count=1000):
                batch.append(key)
                if len(batch) >= 500:
                    client.unlink(*batch)
                    batch.clear()
            if batch:
                client.unlink(*batch)
        finally:
            client.close()
