"""A Postgres cluster of a test's own, which the test may stop and start again (the tests' shared
Postgres is not theirs to stop).

``initdb`` makes it in a temporary directory, trusting local connections, listening on 127.0.0.1 on
a free port; as root, every Postgres command runs as the ``postgres`` user (Postgres refuses to run as
root). Settings trade durability for speed: the cluster lives as long as one test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.processes import free_port

BIN = Path(os.environ.get("PLANWRIGHT_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
USER = "postgres"  # the cluster's superuser, and the system user it runs as when the tests run as root


def missing() -> str | None:
    """Why no cluster can be made here, or None if one can."""
    if not (BIN / "initdb").is_file():
        return f"no Postgres binaries in {BIN} (set PLANWRIGHT_TEST_PG_BIN)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root, and no runuser to run Postgres as the postgres user"
    return None


class Cluster:
    """One Postgres cluster: ``start``, ``stop`` (a fast shutdown by default) and ``start`` again on
    the same port; ``remove`` stops it and deletes its files."""

    def __init__(self) -> None:
        self.port = free_port()
        # Not under pytest's tmp_path: the postgres user must be able to reach the data directory.
        self.dir = Path(tempfile.mkdtemp(prefix="pwpg"))
        self.data = self.dir / "data"
        self.logfile = self.dir / "postgres.log"
        try:
            if os.geteuid() == 0:
                shutil.chown(self.dir, USER, USER)
            self._run("initdb", "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync")
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    @property
    def url(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> str:
        command = [str(BIN / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=180)  # pg_ctl waits 120 s
        if done.returncode != 0:
            raise RuntimeError(
                f"{tool} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n{self.log()}"
            )
        return done.stdout

    def start(self) -> None:
        """Start the server; returns once it accepts connections (``pg_ctl -w``, 120 s at most)."""
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.dir}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
            ]
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-o", options, "-w", "-t", "120", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: sessions are ended with ``admin_shutdown``); returns once it has."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "120", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def log(self) -> str:
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    def remove(self) -> None:
        try:
            if self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
