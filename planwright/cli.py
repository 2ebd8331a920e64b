"""The ``planwright`` command: run the platform or one of its services, migrate, submit jobs."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import shlex
import signal
import sys
import threading
from collections.abc import Coroutine, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from planwright.core import heap
from planwright.core.errors import ConfigError
from planwright.core.llm.notice import MOCK_NOTICE, mock_advice
from planwright.core.settings import Settings, load_settings

app = typer.Typer(help="Planwright: plan, run, check and govern multi-step work.", no_args_is_help=True)

# Each service process serves /metrics on its own port (METRICS_PORT overrides; 0 turns it off).
METRICS_PORTS = {"planner": 9101, "worker": 9102, "critic": 9103, "policy": 9104}
HostOpt = Annotated[str, typer.Option(help="Interface to listen on.")]
PortOpt = Annotated[int, typer.Option(help="Port to listen on.")]
KeyOpt = Annotated[
    str | None,
    typer.Option(
        "--key", envvar="PLANWRIGHT_API_KEY", help="API key, when the API needs one.", show_default=False
    ),
]


def _settings(data_dir: Path | None = None) -> Settings:
    if data_dir is not None:
        os.environ["PLANWRIGHT_DATA_DIR"] = str(data_dir)
    try:
        return load_settings()
    except ConfigError as exc:
        typer.echo(f"planwright: {exc.message}", err=True)
        raise typer.Exit(2) from exc


def _logging() -> None:
    """LOG_LEVEL (default INFO); LOG_FORMAT: auto (text at a terminal, JSON lines otherwise), json, text."""
    from planwright.core import logs

    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    fmt = os.environ.get("LOG_FORMAT", "auto").lower()
    if fmt not in ("auto", "json", "text"):
        typer.echo(f"planwright: LOG_FORMAT must be auto, json or text, not {fmt!r}", err=True)
        raise typer.Exit(2)
    logs.configure(level, "json" if fmt == "json" else "text" if fmt == "text" else "auto")
    # Alembic announces every plugin at INFO; only the migrations it runs are worth a line.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.migration").setLevel(level)


def _migrate_apart(settings: Settings) -> None:
    """``_migrate`` in a forked child, so that Alembic (with Mako, Pygments and every dialect's DDL)
    is never loaded into the server that runs afterwards: about 9 MB of its idle RSS. The engine module
    is imported first, so the server and the child share it rather than both importing it."""
    if not hasattr(os, "fork"):
        _migrate(settings)
        return
    import planwright.core.db.engine  # noqa: F401

    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: migrate, then leave without running the parent's exit handlers
        code = 1
        try:
            _migrate(settings)
            code = 0
        except typer.Exit as exc:
            code = exc.exit_code
        except BaseException:
            logging.getLogger("planwright").exception("migration failed")
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if (code := os.waitstatus_to_exitcode(status)) != 0:
        raise typer.Exit(code if code > 0 else 1)


def _migrate(settings: Settings) -> None:
    from planwright.core.db.migrate import upgrade_head, wait_for_db

    asyncio.run(wait_for_db(settings.db_url))
    upgrade_head(settings.db_url)


def _require_distributed(settings: Settings, command: str) -> None:
    if settings.embedded:
        typer.echo(
            f"planwright {command}: this runs one service as its own process, which needs distributed mode "
            "(set DATABASE_URL and REDIS_URL). For everything in one process, run `planwright up`.",
            err=True,
        )
        raise typer.Exit(2)


@contextlib.contextmanager
def _traced(settings: Settings, service: str) -> Iterator[None]:
    """Export this process's spans when OTEL_EXPORTER_OTLP_ENDPOINT is set; flush them at exit."""
    from planwright.core import tracing

    if not settings.otel_exporter_otlp_endpoint:
        yield
        return
    name = settings.otel_service_name or service
    tracing.configure(name, endpoint=settings.otel_exporter_otlp_endpoint)
    logging.getLogger("planwright").info(
        "tracing: spans of %s go to %s", name, settings.otel_exporter_otlp_endpoint
    )
    try:
        yield
    finally:
        tracing.shutdown()


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run a service's loop on uvloop, as uvicorn runs the API's (it comes with uvicorn[standard]);
    on plain asyncio where uvloop is not available."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


def _check_auth(settings: Settings, host: str) -> None:
    """Refuse to serve an open API on a non-loopback address; say at start how the API is reached."""
    from planwright.services.api.auth import is_loopback

    log = logging.getLogger("planwright")
    if settings.planwright_auth == "none":
        log.warning(
            "auth: PLANWRIGHT_AUTH=none: the API needs no key; anyone who reaches %s can use it", host
        )
        return
    keys, ever = asyncio.run(_count_keys(settings))
    if keys:
        log.info("auth: API keys required (%d active); the web UI asks for one", keys)
    elif ever:
        log.warning(
            "auth: every API key is revoked, so no request is let in: make one with `planwright keys create`"
        )
    elif settings.planwright_auth == "keys":
        log.warning(
            "auth: PLANWRIGHT_AUTH=keys but no API key exists yet: create one with `planwright keys create`"
        )
    elif is_loopback(host):
        log.info(
            "auth: open (no API keys exist, listening on %s only): anyone on this machine can use the API; "
            "`planwright keys create --tenant <name>` turns keys on (docs/security.md)",
            host,
        )
    else:
        typer.echo(
            f"planwright: refusing to serve {host} with no API key: anyone who reaches it could run and read "
            "every job. Create a key first (`planwright keys create --tenant <name> --name <who>`), "
            "listen on 127.0.0.1, or set PLANWRIGHT_AUTH=none to run it open on purpose (docs/security.md).",
            err=True,
        )
        raise typer.Exit(2)


async def _count_keys(settings: Settings) -> tuple[int, bool]:
    """Active keys, and whether any key was ever made."""
    from planwright.core import apikeys
    from planwright.core.db.engine import make_engine

    engine = make_engine(settings.db_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return len(await apikeys.active(conn)), await apikeys.ever_made(conn)
    finally:
        await engine.dispose()


def _warn_if_mock(settings: Settings) -> None:
    if settings.llm_provider == "mock":
        logging.getLogger("planwright").warning("llm: %s", MOCK_NOTICE)


def _stopped(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _serve(settings: Settings, roles: tuple[str, ...], host: str, port: int, service: str) -> None:
    import uvicorn

    from planwright.services.api.app import create_app
    from planwright.services.runtime import Runtime

    _check_auth(settings, host)
    if not settings.embedded:  # `planwright up` printed it in its banner
        _warn_if_mock(settings)
    try:
        runtime = Runtime(settings, roles)
    except ConfigError as exc:
        typer.echo(f"planwright: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    level = os.environ.get("LOG_LEVEL", "INFO").lower()
    # Open SSE streams would hold a shutdown until their jobs end; after a few seconds they are closed
    # and their clients resume on another replica with Last-Event-ID.
    # log_config=None: uvicorn's own lines go through the handler _logging set up (JSON or text).
    # uvicorn sends a SIGTERM or SIGINT it shut down gracefully for to the handler it found, once done
    # (uvicorn/server.py capture_signals): that is a requested stop, so this one exits 0 rather than
    # letting the process die of the signal (rc=-15 under honcho, as if it had failed).
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stopped)
    # Limits, set on purpose (many SSE clients reconnecting at once, a process that stalled):
    # - No limit_concurrency: it counts every connection, each open event stream among them, and past
    #   it answers 503 to every request, /healthz and /metrics too, so a process full of streams would
    #   fail its probes and be restarted. The app bounds what is costly itself: event streams
    #   (SSE_MAX_STREAMS, 503 for one more) and the work of opening them (services/api/streams.py).
    # - backlog 2048 (uvicorn's default; the kernel caps it at net.core.somaxconn): deep enough that a
    #   stall of a few seconds under hundreds of reconnecting clients does not overflow it (an
    #   overflow drops connections, /healthz probes among them, which retry a second or more later),
    #   and quick to work through once the process runs again, since a connection whose client has
    #   left costs no read (~500 queued after an 8 s stall: under 0.5 s on 2 cores).
    # - timeout_keep_alive 5 s (uvicorn's default): an idle connection holds a descriptor no longer.
    with _traced(settings, service):
        uvicorn.run(
            create_app(runtime, started=heap.settle),
            host=host,
            port=port,
            log_level=level,
            log_config=None,
            lifespan="on",
            ws="none",  # no WebSocket routes: do not load the websockets package
            timeout_graceful_shutdown=5,
            limit_concurrency=None,
            backlog=2048,
            timeout_keep_alive=5,
        )


@app.command()
def up(
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    data_dir: Annotated[
        Path | None, typer.Option(help="SQLite file and artifacts (env PLANWRIGHT_DATA_DIR; default ./var).")
    ] = None,
) -> None:
    """Migrate and run the whole platform in one process (embedded mode)."""
    _logging()
    settings = _settings(data_dir)
    if not settings.embedded:
        typer.echo("planwright up runs embedded mode; unset DATABASE_URL and REDIS_URL", err=True)
        raise typer.Exit(2)
    _migrate_apart(settings)
    typer.echo(f"Planwright (embedded) on http://{host}:{port}  data: {settings.planwright_data_dir}")
    if settings.llm_provider == "mock":
        typer.echo(mock_advice())
    else:
        typer.echo(f"model: {settings.llm_provider} {settings.model}")
    from planwright.services.runtime import ROLES

    _serve(settings, ROLES, host, port, "planwright")


@app.command()
def api(host: HostOpt = "127.0.0.1", port: PortOpt = 8000) -> None:
    """Run the API and the Orchestrator (distributed mode)."""
    _logging()
    settings = _settings()
    _require_distributed(settings, "api")
    _serve(settings, ("orchestrator",), host, port, "planwright-api")


def _service(role: str) -> None:
    from planwright.services.runtime import Runtime

    _logging()
    settings = _settings()
    _require_distributed(settings, role)
    if role in ("planner", "worker", "critic"):  # the roles that call the model
        _warn_if_mock(settings)
    try:
        runtime = Runtime(settings, (role,))
    except ConfigError as exc:
        typer.echo(f"planwright: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    port = settings.metrics_port if settings.metrics_port is not None else METRICS_PORTS[role]
    if port:
        from prometheus_client import start_http_server

        try:
            start_http_server(port, addr=settings.metrics_host)
        except OSError as exc:
            typer.echo(f"planwright: cannot serve metrics on port {port} ({exc}); set METRICS_PORT", err=True)
            raise typer.Exit(2) from exc
        logging.getLogger("planwright").info(
            "%s: metrics on http://%s:%d/metrics", role, settings.metrics_host, port
        )

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, runtime.request_stop)
        await runtime.start()
        heap.settle()
        try:
            await runtime.stopped()
        finally:
            await runtime.stop()

    with _traced(settings, f"planwright-{role}"):
        _run_loop(main())


@app.command()
def planner() -> None:
    """Run a Planner service process."""
    _service("planner")


@app.command()
def worker(concurrency: Annotated[int | None, typer.Option(help="Tasks run at once.")] = None) -> None:
    """Run an Executor worker process."""
    if concurrency is not None:
        os.environ["WORKER_CONCURRENCY"] = str(concurrency)
    _service("worker")


@app.command()
def critic() -> None:
    """Run a Critic service process."""
    _service("critic")


@app.command()
def policy() -> None:
    """Run a Policy Gate service process."""
    _service("policy")


@app.command()
def migrate(
    create_database: Annotated[
        bool, typer.Option("--create-database", help="Create the Postgres database first if it is missing.")
    ] = False,
) -> None:
    """Wait for the database, then migrate it to the newest schema (alembic upgrade head)."""
    from planwright.core.db.migrate import create_database_if_missing

    _logging()
    settings = _settings()
    if create_database and settings.database_url:
        try:
            if asyncio.run(create_database_if_missing(settings.database_url)):
                typer.echo(f"created database {settings.database_url.rsplit('/', 1)[-1]}")
        except ConfigError as exc:
            typer.echo(f"planwright: {exc.message}", err=True)
            raise typer.Exit(2) from exc
    _migrate(settings)
    typer.echo("database is at the newest schema")


DEFAULT_API = "http://localhost:8000"
ApiOpt = Annotated[str, typer.Option("--api", envvar="PLANWRIGHT_API", help="API base URL.")]


@app.command()
def submit(
    goal: Annotated[
        str | None,
        typer.Argument(help="What the job should achieve (optional with --plan).", show_default=False),
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Print task status live until the job ends.")
    ] = False,
    priority: Annotated[int, typer.Option(help="0..9, higher runs first.")] = 1,
    context: Annotated[str, typer.Option(help="context_json as a JSON object.")] = "{}",
    plan: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            help="Run this plan instead of planning the goal: a YAML or JSON file of tasks.",
            show_default=False,
        ),
    ] = None,
    api_url: ApiOpt = DEFAULT_API,
    key: KeyOpt = None,
) -> None:
    """Submit a job; with --follow, print its progress and result, and exit 0 only if it succeeds."""
    from planwright.client import Client
    from planwright.follow import exits, follow_job, note_if_mock, print_result, read_plan

    try:
        context_json = json.loads(context)
    except json.JSONDecodeError as exc:
        typer.echo(f"planwright: --context is not valid JSON: {exc}", err=True)
        raise typer.Exit(2) from exc
    tasks = None if plan is None else read_plan(plan)
    if goal is None and tasks is None:
        typer.echo("planwright submit: give a goal, or a plan with --plan", err=True)
        raise typer.Exit(2)
    with Client(api_url, key) as client:
        if not follow:
            with exits(refused=2):
                job = client.submit(goal, plan=tasks, context=context_json, priority=priority)
            typer.echo(f"job {job.id} {job.status}")
            note_if_mock(client)
            return
        # Submitted and followed in one request: its first event, job.created, names the new job.
        events = client.submit_and_follow(goal, plan=tasks, context=context_json, priority=priority)
        with exits(refused=2):
            created = next(events)
        typer.echo(f"job {created.job_id} pending")
        note_if_mock(client)
        with exits(refused=2, what=f"cannot follow job {created.job_id}: "):
            status = follow_job(itertools.chain([created], events), out=sys.stdout)
            download = _download_command(api_url, key)
            print_result(client, created.job_id, out=sys.stdout, download=download)
        raise typer.Exit(0 if status == "succeeded" else 1)


def _download_command(api_url: str, key: str | None) -> str:
    """``planwright download`` with the options that reach the same API (the key by its variable)."""
    command = "planwright download"
    if api_url != DEFAULT_API:
        command += f" --api {shlex.quote(api_url)}"
    if key and os.environ.get("PLANWRIGHT_API_KEY") != key:
        command = "PLANWRIGHT_API_KEY=<your key> " + command
    return command


@app.command()
def download(
    artifact_id: Annotated[str, typer.Argument(help="The artifact's id (GET /jobs/{id}/artifacts).")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Write it here (default: its name, in this directory).", show_default=False
        ),
    ] = None,
    api_url: ApiOpt = DEFAULT_API,
    key: KeyOpt = None,
) -> None:
    """Download an artifact; '-o -' writes it to stdout."""
    from planwright.client import Client
    from planwright.follow import exits

    with Client(api_url, key) as client, exits(refused=1):
        if out is not None and str(out) == "-":
            sys.stdout.buffer.write(client.download(artifact_id))
            return
        target = out if out is not None else Path(client.artifact(artifact_id).name)
        client.download(artifact_id, target)
    typer.echo(f"wrote {target}")


@app.command()
def retry(
    task_id: Annotated[str, typer.Argument(help="The failed or blocked task to run again.")],
    api_url: ApiOpt = DEFAULT_API,
    key: KeyOpt = None,
) -> None:
    """Retry a failed or blocked task; its failed job reopens (POST /tasks/{id}/retry)."""
    from planwright.client import Client
    from planwright.follow import exits

    with Client(api_url, key) as client, exits(refused=1):
        task = client.retry(task_id)
    typer.echo(f"task {task.key} is {task.status} (attempt {task.attempt})")


@app.command()
def answer(
    task_id: Annotated[str, typer.Argument(help="The ask_human task awaiting input.")],
    text: Annotated[
        str | None,
        typer.Argument(help="The answer as text, or one of the question's choices.", show_default=False),
    ] = None,
    json_doc: Annotated[
        str | None,
        typer.Option(
            "--json", help="A structured answer: a JSON document valid against the question's schema."
        ),
    ] = None,
    api_url: ApiOpt = DEFAULT_API,
    key: KeyOpt = None,
) -> None:
    """Answer an ask_human task (POST /tasks/{id}/input); its job goes on with the answer."""
    from planwright.client import Client
    from planwright.follow import exits

    if (text is None) == (json_doc is None):
        typer.echo("planwright answer: give the answer as text, or as --json '<document>'", err=True)
        raise typer.Exit(2)
    value: Any = text
    if json_doc is not None:
        try:
            value = json.loads(json_doc)
        except json.JSONDecodeError as exc:
            typer.echo(f"planwright answer: --json is not valid JSON: {exc}", err=True)
            raise typer.Exit(2) from exc
    with Client(api_url, key) as client, exits(refused=1):
        task = client.answer(task_id, value)
    typer.echo(f"task {task.key} is {task.status}")


keys_app = typer.Typer(
    help="API keys (docs/security.md): made, listed and revoked in the database the API uses "
    "(DATABASE_URL, or the embedded SQLite file under --data-dir).",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")
DataDirOpt = Annotated[
    Path | None, typer.Option(help="Embedded mode's data directory (env PLANWRIGHT_DATA_DIR; default ./var).")
]


def _quiet() -> None:
    """Warnings only: the command's own output is what the user reads (or a script captures)."""
    from planwright.core import logs

    logs.configure("WARNING", "text")
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _keys_db(data_dir: Path | None, work: Any) -> Any:
    """Run ``work(conn)`` in a transaction on the migrated database; errors become one line."""
    from planwright.core.db.engine import make_engine
    from planwright.core.errors import PlanwrightError

    settings = _settings(data_dir)
    _migrate_apart(settings)

    async def run() -> Any:
        engine = make_engine(settings.db_url, pool_size=1)
        try:
            async with engine.begin() as conn:
                return await work(conn)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except PlanwrightError as exc:
        typer.echo(f"planwright: {exc.message}", err=True)
        raise typer.Exit(2) from exc


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="Whose jobs the key submits and sees.")] = "default",
    name: Annotated[str, typer.Option(help="Unique within the tenant, e.g. ci or alice.")] = "default",
    scopes: Annotated[
        str, typer.Option(help="Comma-separated: jobs:read, jobs:write, approvals:write, admin; or all.")
    ] = "jobs:read,jobs:write,approvals:write",
    out: Annotated[
        Path | None, typer.Option(help="Write the key to this file (mode 600) instead of printing it.")
    ] = None,
    if_missing: Annotated[
        bool,
        typer.Option("--if-missing", help="Do nothing if the tenant already has an active key of that name."),
    ] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Make a key and print it once (only its SHA-256 is stored): send it as 'Authorization: Bearer <key>'."""
    from planwright.core import apikeys

    _quiet()

    async def work(conn: Any) -> tuple[str, Any] | None:
        if if_missing and any(
            k.name == name and k.revoked_at is None for k in await apikeys.list_keys(conn, tenant)
        ):
            return None
        return await apikeys.create(conn, tenant=tenant, name=name, scopes=apikeys.parse_scopes(scopes))

    made = _keys_db(data_dir, work)
    if made is None:
        typer.echo(f"tenant {tenant} already has an active key named {name}; nothing to do", err=True)
        return
    key, info = made
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key + "\n")
        typer.echo(f"wrote the key to {out}", err=True)
    else:
        typer.echo(key)
    typer.echo(
        f"key {info.name} of tenant {info.tenant} ({', '.join(sorted(info.scopes))}): "
        "shown only now, keep it safe",
        err=True,
    )


@keys_app.command("list")
def keys_list(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Every key (never the keys themselves): id, tenant, name, prefix, scopes, created, revoked."""
    from planwright.core import apikeys

    _quiet()

    async def work(conn: Any) -> list[Any]:
        return await apikeys.list_keys(conn, tenant)

    for info in _keys_db(data_dir, work):
        revoked = f"revoked {info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "active"
        typer.echo(
            f"{info.id}  {info.tenant}/{info.name}  {info.prefix}...  {','.join(sorted(info.scopes))}  "
            f"created {info.created_at:%Y-%m-%d %H:%M}  {revoked}"
        )


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="The key's id, its prefix, or tenant/name.")],
    data_dir: DataDirOpt = None,
) -> None:
    """Revoke a key: every API process refuses it within AUTH_REFRESH_S (2 s)."""
    from planwright.core import apikeys

    _quiet()

    async def work(conn: Any) -> Any:
        return await apikeys.revoke(conn, key)

    info = _keys_db(data_dir, work)
    typer.echo(f"revoked key {info.tenant}/{info.name} ({info.id})")


@app.command()
def prune(
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            help="Jobs finished longer ago than this: 7d, 12h, 30m or 90s (default: RETENTION_DAYS days).",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would go; change nothing.")] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Delete finished, unpinned jobs with their events, tasks, model calls, plans and artifacts, as the
    API's retention sweeper does (docs/operations.md#retention); print what went."""
    from planwright.core import retention

    _quiet()
    settings = _settings(data_dir)
    try:
        age = retention.parse_duration(older_than) if older_than is not None else None
    except ValueError as exc:
        typer.echo(f"planwright: --older-than {exc}", err=True)
        raise typer.Exit(2) from exc
    if age is None:
        if not settings.retention_days:
            typer.echo("planwright: RETENTION_DAYS=0 keeps every job: give --older-than (e.g. 7d)", err=True)
            raise typer.Exit(2)
        age = timedelta(days=settings.retention_days)
    try:
        pruned, cutoff = asyncio.run(retention.prune_now(settings, age, dry_run=dry_run))
    except Exception as exc:
        typer.echo(f"planwright: could not prune: {exc} (is the database up and migrated?)", err=True)
        raise typer.Exit(1) from exc
    verb = "would delete" if dry_run else "deleted"
    typer.echo(f"{verb} {pruned.jobs} job(s) finished before {cutoff:%Y-%m-%d %H:%M:%S} UTC:")
    for line in pruned.lines():
        typer.echo(line)
    if dry_run:
        typer.echo("dry run: nothing was changed")


@app.command("fake-llm")
def fake_llm(
    script: Annotated[
        Path, typer.Option(help="A JSON list of replies: {text}, {json} or {status, message}.")
    ],
    repeat: Annotated[bool, typer.Option(help="Start the script again when it runs out.")] = False,
    port: PortOpt = 8089,
) -> None:
    """Serve a scripted fake model (OpenAI and Anthropic APIs) for trying tools and plans offline."""
    from planwright.core.llm.fake_server import FakeModelServer, Reply

    try:
        entries = json.loads(script.read_text())
        replies = [Reply.from_dict(entry) for entry in entries]
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        typer.echo(f"planwright: cannot read the script {script}: {exc}", err=True)
        raise typer.Exit(2) from exc
    server = FakeModelServer(replies, repeat=repeat, port=port).start()
    typer.echo(
        f"fake model on {server.url}: OPENAI_BASE_URL={server.openai_url} or ANTHROPIC_BASE_URL={server.url}"
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.close()


@app.command()
def openapi() -> None:
    """Print the API's OpenAPI spec (the UI's typed client is generated from it: make ui-client)."""
    from planwright.services.api.app import create_app
    from planwright.services.runtime import Runtime

    settings = load_settings(database_url=None, redis_url=None)
    typer.echo(json.dumps(create_app(Runtime(settings, ())).openapi(), indent=1))


def main() -> None:
    app()
