"""A real distributed Planwright stack for tests: Postgres database, Redis, services as subprocesses."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from planwright.core.db.engine import make_engine

REPO = Path(__file__).parents[2]
TERMINAL = ("succeeded", "failed", "cancelled")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    """A private redis-server on a free port, for tests that stop, restart or flush Redis."""

    def __init__(
        self, workdir: Path, password: str | None = None, tls: bool = False, unix: bool = False
    ) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.password = password
        self.tls = tls
        # A Unix socket too (its path must stay short: sockaddr_un holds ~108 bytes).
        self.socket = Path(tempfile.mkdtemp(prefix="pwredis")) / "redis.sock" if unix else None
        self.proc: subprocess.Popen[bytes] | None = None
        if tls:  # a self-signed certificate for 127.0.0.1, which clients are told to trust
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                 "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                 "-keyout", str(workdir / "redis.key"), "-out", str(workdir / "redis.crt")],
                check=True, capture_output=True,
            )  # fmt: skip

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        if self.tls:
            return f"rediss://{auth}127.0.0.1:{self.port}/0?ssl_ca_certs={self.workdir / 'redis.crt'}"
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if self.socket is not None:
            self.socket.parent.mkdir(exist_ok=True)  # (stop removes it)
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                *(["--requirepass", self.password] if self.password else []),
                *self._tls_args(),
                *(["--unixsocket", str(self.socket), "--unixsocketperm", "700"] if self.socket else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while self.cli("ping") != "PONG\n":
            assert time.monotonic() < deadline, f"redis-server on port {self.port} did not answer PING in 10s"
            time.sleep(0.05)

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        if self.socket is not None:
            shutil.rmtree(self.socket.parent, ignore_errors=True)

    def _tls_args(self) -> list[str]:
        if not self.tls:
            return []
        crt, key = str(self.workdir / "redis.crt"), str(self.workdir / "redis.key")
        return ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", crt, "--tls-key-file", key,
                "--tls-ca-cert-file", crt, "--tls-auth-clients", "no"]  # fmt: skip

    def cli(self, *args: str) -> str:
        auth = ["--no-auth-warning", "-a", self.password] if self.password else []
        tls = ["--tls", "--cacert", str(self.workdir / "redis.crt")] if self.tls else []
        return subprocess.run(
            ["redis-cli", "-p", str(self.port), *tls, *auth, *args], capture_output=True, text=True
        ).stdout


class Stack:
    """Planwright services as subprocesses sharing one database, one Redis and one data directory."""

    def __init__(self, tmp: Path, database_url: str, redis_url: str, **env: Any) -> None:
        self.tmp = tmp
        self.prefix = f"pwtest:{uuid.uuid4().hex[:10]}:"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": self.prefix,
            "PLANWRIGHT_DATA_DIR": str(tmp / "data"),
            "POLICY_CONFIG_PATH": str(REPO / "config" / "policy.yaml"),
            "RETRY_BACKOFF_S": "0.05",
            "RECONCILE_CHECK_S": "0.5",
            "LOG_LEVEL": "INFO",
            **{k.upper(): str(v) for k, v in env.items()},
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.metrics_ports: dict[str, int] = {}  # each service process serves /metrics on its own port
        self.api_port = free_port()
        self.api = f"http://127.0.0.1:{self.api_port}"
        subprocess.run(
            [sys.executable, "-m", "planwright", "migrate"], env=self.env, check=True, capture_output=True
        )

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        role = name.rstrip("0123456789")  # worker2 -> worker, api2 -> api
        env = self.env
        if role != "api":
            port = self.metrics_ports.setdefault(name, free_port())
            env = {**self.env, "METRICS_PORT": str(port), "METRICS_HOST": "127.0.0.1"}
        with (self.tmp / f"{name}.log").open("ab") as log:  # the child keeps its own descriptor
            proc = subprocess.Popen(
                [sys.executable, "-m", "planwright", role, *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.procs[name] = proc
        return proc

    def start_api(self, name: str = "api", port: int | None = None) -> str:
        """Start an API process (``api2``... for more replicas); returns its base URL once healthy."""
        port = port or (self.api_port if name == "api" else free_port())
        base = f"http://127.0.0.1:{port}"
        self.start(name, "--host", "127.0.0.1", "--port", str(port))
        deadline = time.monotonic() + 30
        while True:
            assert self.procs[name].poll() is None, self.log(name)
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    return base
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "api did not become healthy"
            time.sleep(0.1)

    def start_all(self, workers: int = 2, concurrency: int = 8) -> None:
        for role in ("planner", "critic", "policy"):
            self.start(role)
        for i in range(1, workers + 1):
            self.start(f"worker{i}", "--concurrency", str(concurrency))
        self.start_api()

    def metrics(self, name: str) -> str:
        """The /metrics text of one process (the API's on its HTTP port)."""
        base = self.api if name == "api" else f"http://127.0.0.1:{self.metrics_ports[name]}"
        return httpx.get(f"{base}/metrics", timeout=5).text

    def signal(self, name: str, sig: int) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(sig)
        proc.wait(timeout=60)

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()

    # -- the API, as a client sees it ---------------------------------------------------------

    def submit(self, goal: str, **body: Any) -> str:
        resp = httpx.post(f"{self.api}/jobs", json={"goal": goal, **body}, timeout=10)
        assert resp.status_code == 201, resp.text
        job_id: str = resp.json()["id"]
        return job_id

    def wait_all(self, job_ids: list[str], timeout_s: float = 60) -> dict[str, dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        done: dict[str, dict[str, Any]] = {}
        while len(done) < len(job_ids):
            for job_id in job_ids:
                if job_id not in done:
                    job = httpx.get(f"{self.api}/jobs/{job_id}", timeout=10).json()
                    if job["status"] in TERMINAL:
                        done[job_id] = job
            if len(done) < len(job_ids):
                assert time.monotonic() < deadline, f"{len(job_ids) - len(done)} job(s) did not finish"
                time.sleep(0.1)
        return done

    def tasks(self, job_id: str) -> list[dict[str, Any]]:
        tasks: list[dict[str, Any]] = httpx.get(f"{self.api}/jobs/{job_id}/tasks", timeout=10).json()
        return tasks

    def sql(self, query: str, **params: Any) -> list[Any]:
        async def run() -> list[Any]:
            engine = make_engine(self.env["DATABASE_URL"], pool_size=1)
            try:
                async with engine.connect() as conn:
                    return list((await conn.execute(sa.text(query), params)).all())
            finally:
                await engine.dispose()

        return asyncio.run(run())
