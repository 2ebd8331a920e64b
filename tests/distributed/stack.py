"""A real distributed Planwright stack for tests: Postgres database, Redis, services as subprocesses."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from planwright.core.db.engine import make_engine
from tests import isolation
from tests.processes import answers, free_port, wait_until

REPO = Path(__file__).parents[2]
TERMINAL = ("succeeded", "failed", "cancelled")
JOBS_S = 120.0  # a ceiling for jobs to finish: generous, as tests.processes.READY_S


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
        self._log = workdir / f"redis-{self.port}.log"
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
        with self._log.open("ab") as log:  # the child keeps its own descriptor
            self.proc = self._popen(log)
        wait_until(
            f"redis-server on port {self.port} to answer PING",
            lambda: self.cli("ping") == "PONG\n",
            self.proc,
            lambda: self._log.read_text(errors="replace"),
        )

    def _popen(self, log: IO[bytes]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
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
            stdout=log,
            stderr=subprocess.STDOUT,
        )

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
        self.prefix = isolation.key_prefix()
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
        subprocess.run(
            [sys.executable, "-m", "planwright", "migrate"], env=self.env, check=True, capture_output=True
        )
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.metrics_ports: dict[str, int] = {}  # each service process serves /metrics on its own port
        self.api_ports: dict[str, int] = {}
        self.api_port = free_port()
        self.api = f"http://127.0.0.1:{self.api_port}"
        # One client (building one per request costs more CPU than the request): a new connection for
        # each request all the same, so that no request meets a connection its server closed.
        self.http = httpx.Client(timeout=30, limits=httpx.Limits(max_keepalive_connections=0))
        self._loop = asyncio.new_event_loop()  # sql() keeps one connection, on this loop
        self._engine: AsyncEngine | None = None

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
        self.api_ports[name] = port
        self.start(name, "--host", "127.0.0.1", "--port", str(port))
        self.wait_ready(name)
        return f"http://127.0.0.1:{port}"

    def start_all(self, workers: int = 2, concurrency: int = 8) -> None:
        """Start every service and an API; returns once each one answers (its /metrics, /healthz)."""
        names = ["planner", "critic", "policy", *(f"worker{i}" for i in range(1, workers + 1))]
        for name in names:
            self.start(name, *(("--concurrency", str(concurrency)) if name.startswith("worker") else ()))
        self.start_api()
        for name in names:
            self.wait_ready(name)

    def wait_ready(self, name: str) -> None:
        """Wait until a started process answers: an API on /healthz, a service on its /metrics (served
        once its runtime is built). Fails at once, with its log, if it exits meanwhile."""
        if name in self.api_ports:
            url, what = f"http://127.0.0.1:{self.api_ports[name]}/healthz", f"{name}'s /healthz"
        else:
            url, what = f"http://127.0.0.1:{self.metrics_ports[name]}/metrics", f"{name}'s /metrics"
        wait_until(what, lambda: answers(url), self.procs[name], lambda: self.log(name))

    def metrics(self, name: str) -> str:
        """The /metrics text of one process (the API's on its HTTP port)."""
        base = self.api if name == "api" else f"http://127.0.0.1:{self.metrics_ports[name]}"
        return self.http.get(f"{base}/metrics").text

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
                proc.wait()
        self.procs.clear()

    def close(self) -> None:
        """Stop every process and let go of the client and the database connection."""
        self.stop_all()
        self.http.close()
        if self._engine is not None:
            self._loop.run_until_complete(self._engine.dispose())
        self._loop.close()

    # -- the API, as a client sees it ---------------------------------------------------------

    def submit(self, goal: str, **body: Any) -> str:
        resp = self.http.post(f"{self.api}/jobs", json={"goal": goal, **body})
        assert resp.status_code == 201, resp.text
        job_id: str = resp.json()["id"]
        return job_id

    def wait_all(self, job_ids: list[str], timeout_s: float = JOBS_S) -> dict[str, dict[str, Any]]:
        """Every job, once each has ended. One job is asked about at a time (the others run meanwhile),
        so that waiting for hundreds does not load the API with hundreds of requests a poll."""
        deadline = time.monotonic() + timeout_s
        done: dict[str, dict[str, Any]] = {}
        for job_id in job_ids:
            while (job := self.http.get(f"{self.api}/jobs/{job_id}").json())["status"] not in TERMINAL:
                left = len(job_ids) - len(done)
                assert time.monotonic() < deadline, f"{left} job(s) did not finish in {timeout_s:g}s"
                time.sleep(0.1)
            done[job_id] = job
        return done

    def tasks(self, job_id: str) -> list[dict[str, Any]]:
        tasks: list[dict[str, Any]] = self.http.get(f"{self.api}/jobs/{job_id}/tasks").json()
        return tasks

    def sql(self, query: str, **params: Any) -> list[Any]:
        """The rows of one query on the stack's database (cheap enough to poll: one kept connection)."""
        if self._engine is None:
            self._engine = make_engine(self.env["DATABASE_URL"], pool_size=1)
        engine = self._engine

        async def run() -> list[Any]:
            async with engine.connect() as conn:
                return list((await conn.execute(sa.text(query), params)).all())

        return self._loop.run_until_complete(run())
