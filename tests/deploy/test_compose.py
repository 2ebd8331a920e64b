"""The deployment files hold together: compose stack, image, Procfile and `make up-dist`.

No container runs here (CI has no Docker engine); `.ci/run` adds `docker compose config` when the
compose plugin is installed. These tests check what a user relies on when they run the stack.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from typer.testing import CliRunner

from planwright.cli import app
from planwright.core.settings import load_settings
from tests import isolation

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
ROLES = ("api", "planner", "worker", "critic", "policy")
PLANWRIGHT_SERVICES = {"migrate", "api-key", *ROLES}
ALL_SERVICES = PLANWRIGHT_SERVICES | {"postgres", "redis", "prometheus", "jaeger"}
DEFAULT = re.compile(r"\$\{(\w+):?-([^}]*)\}")


def with_defaults(value: str) -> str:
    """Resolve `${VAR:-default}` and `${VAR-default}` the way compose and the shell do when VAR is unset."""
    return DEFAULT.sub(lambda m: m.group(2), value)


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: with_defaults(str(value)) for key, value in env.items()}


def cli_accepts(argv: list[str]) -> None:
    """The planwright CLI knows this command and its options (`--help` stops before anything runs)."""
    result = CliRunner().invoke(app, [*argv, "--help"])
    assert result.exit_code == 0, f"planwright {shlex.join(argv)}: {result.output}"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def test_the_stack_has_every_service(services):
    assert set(services) == ALL_SERVICES


def test_planwright_services_run_the_one_image_built_from_the_repository(services):
    built = {name for name, svc in services.items() if "build" in svc}
    assert built == PLANWRIGHT_SERVICES
    assert len({services[name]["image"] for name in built}) == 1
    for name in built:
        build = services[name]["build"]
        assert (DEPLOY / build["context"]).resolve() == REPO
        assert (REPO / build.get("dockerfile", "Dockerfile")).is_file()


def test_each_planwright_service_runs_its_role_with_a_real_command(services):
    assert services["migrate"]["command"] == ["migrate"]
    for role in ROLES:
        command = services[role]["command"]
        assert command[0] == role
        cli_accepts(command)
    assert services["worker"]["command"] == ["worker", "--concurrency", "8"]


def test_the_api_starts_with_a_key_it_made_once(services, tmp_path, monkeypatch):
    """The API listens on 0.0.0.0 in the stack, which needs a key: a one-shot service makes one
    after the migration, keeps an existing one, and the API starts only after it."""
    command = services["api-key"]["command"]
    assert command[:2] == ["keys", "create"]
    assert "--if-missing" in command
    cli_accepts(command)
    assert services["api-key"]["restart"] == "no"
    assert services["api-key"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["api"]["depends_on"]["api-key"]["condition"] == "service_completed_successfully"
    out = Path(command[command.index("--out") + 1])
    assert out.parent == Path(env_of(services["api"])["PLANWRIGHT_DATA_DIR"])  # in the shared volume
    # The command as the stack runs it, twice, on an embedded database: one key, kept.
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    argv = [a if a != str(out) else str(tmp_path / "api-key") for a in command] + [
        "--data-dir",
        str(tmp_path),
    ]
    first = subprocess.run(
        [sys.executable, "-m", "planwright", *argv], capture_output=True, text=True, cwd=REPO
    )
    assert first.returncode == 0, first.stderr
    key = (tmp_path / "api-key").read_text().strip()
    assert key.startswith("pw_")
    assert oct((tmp_path / "api-key").stat().st_mode & 0o777) == "0o600"
    again = subprocess.run(
        [sys.executable, "-m", "planwright", *argv], capture_output=True, text=True, cwd=REPO
    )
    assert again.returncode == 0
    assert "nothing to do" in again.stderr
    assert (tmp_path / "api-key").read_text().strip() == key
    # Prometheus reaches the API as "api": that Host is allowed.
    assert "api" in env_of(services["api"])["PLANWRIGHT_ALLOWED_HOSTS"].split(",")


def test_worker_runs_two_replicas(services):
    assert services["worker"]["deploy"]["replicas"] == 2
    # `--scale worker=N` needs a service without a fixed container name or host port.
    assert "container_name" not in services["worker"]
    assert "ports" not in services["worker"]


def test_services_start_after_the_migration_and_a_healthy_redis(services):
    for name in ROLES:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["redis"]["condition"] == "service_healthy", name
    assert services["api"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"  # a one-shot job: it must exit 0, not loop


def test_postgres_redis_and_api_have_healthchecks(services):
    for name in ("postgres", "redis", "api"):
        assert services[name]["healthcheck"]["test"], name
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert "redis-cli ping" in " ".join(services["redis"]["healthcheck"]["test"])
    api_check = " ".join(services["api"]["healthcheck"]["test"])
    assert "http://localhost:8000/healthz" in api_check
    assert "curl" not in api_check  # python:3.11-slim has no curl


def test_published_ports(services):
    assert "8000:8000" in services["api"]["ports"]
    assert "9090:9090" in services["prometheus"]["ports"]
    assert {"16686:16686", "4317:4317", "4318:4318"} <= set(services["jaeger"]["ports"])
    assert env_of(services["jaeger"])["COLLECTOR_OTLP_ENABLED"] == "true"


def test_planwright_services_reach_postgres_and_redis_by_service_name(services):
    for name in PLANWRIGHT_SERVICES:
        env = env_of(services[name])
        assert urlsplit(env["DATABASE_URL"]).hostname == "postgres", name
        redis = urlsplit(env["REDIS_URL"])
        assert (redis.scheme, redis.hostname) == ("redis", "redis"), name


def test_the_default_environment_is_valid_distributed_settings(services, monkeypatch):
    env = env_of(services["api"])
    for key in ("CRITIC_ENABLED", "POLICY_GATE_ENABLED", "POLICY_MODE"):
        assert key in env
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings(_env_file=None)
    assert not settings.embedded
    assert settings.critic_enabled is False
    assert settings.policy_gate_enabled is False
    assert settings.policy_mode == "dev"


def test_every_service_traces_to_jaeger_and_logs_json(services, monkeypatch):
    jaeger_ports = {str(p).split(":")[-1] for p in services["jaeger"]["ports"]}
    assert services["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    for name in ROLES:
        env = env_of(services[name])
        endpoint = urlsplit(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert (endpoint.scheme, endpoint.hostname) == ("http", "jaeger"), name
        assert str(endpoint.port) in jaeger_ports, name  # Jaeger's OTLP/HTTP port
        assert env["LOG_FORMAT"] == "json", name
    env = env_of(services["api"])
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings(_env_file=None)
    assert settings.jaeger_url == "http://localhost:16686"
    assert "16686:16686" in services["jaeger"]["ports"]


def test_workers_and_api_share_the_artifact_volume(compose, services):
    mounts = {}
    for name in ("api", "worker"):
        data_dir = env_of(services[name])["PLANWRIGHT_DATA_DIR"]
        named = [v.split(":")[0] for v in services[name]["volumes"] if v.split(":")[1] == data_dir]
        assert named, f"{name} has no volume at PLANWRIGHT_DATA_DIR={data_dir}"
        mounts[name] = named[0]
    assert mounts["api"] == mounts["worker"]
    assert mounts["api"] in compose["volumes"]  # a named volume, not a bind mount


def test_prometheus_scrapes_every_planwright_service(services):
    mounted = [
        v for v in services["prometheus"]["volumes"] if v.endswith("/etc/prometheus/prometheus.yml:ro")
    ]
    assert len(mounted) == 1
    config = yaml.safe_load((DEPLOY / mounted[0].split(":")[0]).read_text())
    targets = {
        (sd["names"][0], sd["port"])
        for job in config["scrape_configs"]
        for sd in job.get("dns_sd_configs", [])
    }
    assert targets == {("api", 8000), ("planner", 9101), ("worker", 9102), ("critic", 9103), ("policy", 9104)}
    assert {name for name, _ in targets} == PLANWRIGHT_SERVICES - {"migrate", "api-key"}
    assert all(job.get("metrics_path", "/metrics") == "/metrics" for job in config["scrape_configs"])


def _dockerfile() -> list[str]:
    return [line.strip() for line in (REPO / "Dockerfile").read_text().splitlines()]


def test_the_image_runs_planwright_as_a_non_root_user():
    lines = _dockerfile()
    (entrypoint,) = [line for line in lines if line.startswith("ENTRYPOINT ")]
    assert json.loads(entrypoint.removeprefix("ENTRYPOINT ")) == ["planwright"]
    (cmd,) = [line for line in lines if line.startswith("CMD ")]
    cli_accepts(json.loads(cmd.removeprefix("CMD ")))
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users
    assert users[-1] not in {"root", "0"}


def test_the_image_installs_locked_dependencies_before_copying_the_source():
    lines = _dockerfile()
    lock_copy = lines.index("COPY pyproject.toml uv.lock ./")
    source_copy = lines.index("COPY . .")
    # The workspace's members' pyproject.toml files come with the lock file (uv reads them all).
    members = lines.index(
        "COPY examples/planwright-example-tools/pyproject.toml examples/planwright-example-tools/"
    )
    deps = [i for i, line in enumerate(lines) if "uv sync --frozen --no-dev --no-install-workspace" in line]
    assert lock_copy < members < deps[0] < source_copy
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".git", ".venv", "var", ".env"} <= ignored


def _procfile() -> dict[str, list[str]]:
    processes = {}
    for line in (REPO / "Procfile.dist").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            argv = shlex.split(with_defaults(command))
            while argv and (("=" in argv[0] and not argv[0].startswith(".")) or argv[0] == "exec"):
                argv.pop(0)  # VAR=value prefixes, and exec
            processes[name.strip()] = argv
    return processes


def test_procfile_runs_every_role_with_the_planwright_command():
    processes = _procfile()
    roles = {}
    for name, argv in processes.items():
        assert argv[0] == ".venv/bin/planwright", name
        cli_accepts(argv[1:])
        roles.setdefault(argv[1], []).append(name)
    assert set(roles) == set(ROLES)
    assert len(roles["worker"]) == 2
    # honcho sets PORT for every process; the API port must not depend on it.
    api_line = next(
        line for line in (REPO / "Procfile.dist").read_text().splitlines() if line.startswith("api:")
    )
    assert "API_PORT" in api_line
    assert "$PORT" not in api_line
    assert "${PORT" not in api_line
    # Two workers on one machine cannot share a metrics port.
    workers = [line for line in (REPO / "Procfile.dist").read_text().splitlines() if " worker" in line]
    assert sum("METRICS_PORT=" in line for line in workers) == 1


def _make(*args: str, env: dict[str, str] | None = None) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    result = subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env=env,
    )
    return result.stdout


def test_make_up_dist_creates_the_database_migrates_then_starts_honcho():
    lines = _make("-n", "up-dist").splitlines()

    def step(fragment: str) -> int:
        found = [i for i, line in enumerate(lines) if fragment in line]
        assert found, f"`make -n up-dist` has no step with {fragment!r}:\n" + "\n".join(lines)
        return found[0]

    assert step("sync --frozen") < step("planwright migrate --create-database")
    assert step("planwright migrate") < step("honcho -f Procfile.dist start")
    assert "API_PORT=8000" in lines[step("honcho -f Procfile.dist start")]


def test_make_up_is_unchanged():
    assert "planwright up --host 127.0.0.1 --port 8000" in _make("-n", "up")


PG_ADMIN = isolation.PG_ADMIN


async def _database_exists(name: str, drop: bool = False) -> bool:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        found = await conn.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", name)
        if drop and found:
            await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        return bool(found)
    finally:
        await conn.close()


def test_migrate_creates_the_database_once_then_only_migrates():
    try:
        asyncio.run(_database_exists("postgres"))
    except OSError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"Postgres is not reachable at {PG_ADMIN}: {exc}")
    name = isolation.database_name()
    env = {**os.environ, "DATABASE_URL": isolation.database_url(name)}
    try:
        command = [sys.executable, "-m", "planwright", "migrate", "--create-database"]
        first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert first.returncode == 0, first.stderr
        assert f"created database {name}" in first.stdout
        assert asyncio.run(_database_exists(name))
        again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stderr
        assert "created database" not in again.stdout
        assert "newest schema" in again.stdout
    finally:
        asyncio.run(_database_exists(name, drop=True))


def test_the_grafana_dashboard_charts_only_metrics_that_exist():
    from prometheus_client import REGISTRY

    import planwright.core.metrics  # noqa: F401  (registers every metric)

    dashboard = json.loads((DEPLOY / "grafana" / "planwright.json").read_text())
    suffixes = ("", "_total", "_bucket", "_count", "_sum")
    exported = {f.name + suffix for f in REGISTRY.collect() for suffix in suffixes}
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"planwright_[a-z_]+", target["expr"])
    }
    assert used <= exported, used - exported
    # Everything the issue asks to see has a panel.
    for family in ("jobs_finished", "task_queue_wait", "stream_lag", "critic_verdicts", "llm_tokens"):
        assert any(family in name for name in used), family
