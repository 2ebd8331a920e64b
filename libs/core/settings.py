"""One settings object per process, read from the environment with the seed's variable names."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from planwright.core.errors import ConfigError

PRIORITY_MIN = 0
PRIORITY_MAX = 9
GOAL_MAX_CHARS = 10_000
CONTEXT_MAX_DEPTH = 32  # how deeply a job's context_json may nest (objects and arrays)
DEFAULT_MODELS = {"mock": "mock", "openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5"}


class Settings(BaseSettings):
    """Every knob, with its environment variable (the field name, upper-cased)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    # Where state lives. Unset DATABASE_URL / REDIS_URL means embedded mode.
    database_url: str | None = None
    redis_url: str | None = None
    # Prepended to every Redis key, so several deployments (or test runs) can share one Redis.
    redis_key_prefix: str = ""
    planwright_data_dir: Path = Path("var")
    # The built web UI (`make ui-build`), served at / when present; else / redirects to /docs.
    planwright_ui_dir: Path = Path("ui/out")
    # Origins allowed to call the API from a browser (comma-separated), e.g. the `make ui-dev` server.
    planwright_cors_origins: str = ""

    # Who may call the API (docs/security.md). auto: API keys (`planwright keys create`) are required
    # once one has been made (revoking them all locks the API); before that the API runs open, which it
    # refuses to do on a non-loopback address.
    # keys: required even before a key exists. none: never (say so explicitly, e.g. behind a proxy
    # that authenticates).
    planwright_auth: Literal["auto", "keys", "none"] = "auto"
    # Host header values the API answers (comma-separated, a port is ignored; "*" for any): others get
    # 400, which stops DNS rebinding against a local instance.
    planwright_allowed_hosts: str = "localhost,127.0.0.1,[::1]"
    # Requests per second per API key (and per client address when the API runs open; loopback clients
    # of an open API are not limited), with a burst of twice that; 0 turns a limit off. Shared by the
    # API replicas through Redis in distributed mode.
    rate_limit_submit_per_s: float = Field(20.0, ge=0)  # POST /jobs and the other state changes
    rate_limit_read_per_s: float = Field(100.0, ge=0)  # reads, event streams included
    # How often an API process rereads the keys (a revoked key stops working within this).
    auth_refresh_s: float = Field(2.0, gt=0, le=60)

    # Planning.
    planner_mode: Literal["rules", "llm"] = "rules"
    plan_max_tasks: int = Field(20, ge=1, le=500)
    # The LLM planner asks again with the errors up to this many times, then fails the job ...
    planner_max_attempts: int = Field(3, ge=1, le=10)
    # ... or, with "rule", hands the goal to the rule planner.
    planner_fallback: Literal["none", "rule"] = "none"
    # When a task fails for good, ask the planner for a new plan version up to this many times per job
    # (docs/llm.md#replanning); 0 turns replanning off. Unset: 1 with the LLM planner, 0 with the rule
    # planner (it has no other plan to offer). Read by the Orchestrator (the API processes).
    replan_max_rounds: int | None = Field(None, ge=0, le=10)

    # Language model (docs/llm.md). Keys are secrets: never logged, never in errors or events.
    llm_provider: Literal["mock", "openai", "anthropic", "openai_compatible"] = "mock"
    llm_model: str | None = None  # default per provider: DEFAULT_MODELS; required for openai_compatible
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    llm_base_url: str | None = None  # openai_compatible: e.g. http://localhost:11434/v1 (Ollama)
    llm_api_key: SecretStr | None = None  # openai_compatible, if the server wants one
    llm_timeout_s: float = Field(60.0, gt=0)
    llm_max_retries: int = Field(3, ge=0, le=10)  # on 429, 5xx and connection errors, with backoff
    llm_prices_path: Path = Path("config/llm_prices.yaml")

    # Tools beyond the built-ins (docs/tools.md): modules to import for their @tool specs
    # (comma-separated, e.g. "myco.tools,other.module"), besides the `planwright.tools` entry points.
    planwright_tools: str = ""
    # MCP servers whose tools join the catalog as mcp.<server>.<tool> (docs/mcp.md).
    mcp_config_path: Path = Path("config/mcp.yaml")

    # Execution.
    worker_concurrency: int = Field(8, ge=1, le=1024)
    task_max_retries: int = Field(2, ge=0, le=20)
    retry_backoff_s: float = Field(0.5, ge=0, le=60)
    http_fetch_max_bytes: int = Field(1_000_000, ge=1)
    # An unacked message idle this long is delivered again (a crashed consumer's work is reclaimed).
    visibility_timeout_s: float = Field(120.0, gt=0)
    # Each consumer renews a liveness key this long-lived (Redis) every third of it; once its key has
    # expired, the others take over its unacked messages at once instead of after the visibility timeout.
    consumer_ttl_s: float = Field(5.0, ge=1, le=600)
    max_deliveries: int = Field(5, ge=1)
    # On SIGTERM a worker lets in-flight tasks finish for this long, then releases them.
    shutdown_grace_s: float = Field(20.0, ge=0)
    # How often the Orchestrator checks whether Redis lost its data (then it reconciles).
    reconcile_check_s: float = Field(2.0, gt=0)
    # Finished jobs (and their events, tasks, model calls, plans, artifacts) are deleted this many days
    # after they finished, unless pinned; 0 keeps everything (docs/operations.md#retention).
    retention_days: int = Field(30, ge=0, le=36500)

    # Observability (docs/observability.md). A service process serves /metrics on METRICS_PORT
    # (default per service: planner 9101, worker 9102, critic 9103, policy 9104; 0 turns it off);
    # the API serves its own at /metrics.
    metrics_port: int | None = Field(None, ge=0, le=65535)
    metrics_host: str = "0.0.0.0"
    metrics_refresh_s: float = Field(5.0, gt=0)  # how often stream and outbox gauges are read
    # Tracing is on when this is set (an OTLP/HTTP endpoint, e.g. Jaeger's http://localhost:4318);
    # the exporter also reads the other standard OTEL_* variables. Each process names itself
    # planwright-<service> unless OTEL_SERVICE_NAME says otherwise.
    otel_exporter_otlp_endpoint: str | None = None
    otel_service_name: str | None = None
    # Jaeger's UI (e.g. http://localhost:16686): the API and the UI link each job to its trace there.
    jaeger_url: str | None = None

    # What a request may carry (docs/api.md#limits). A body over MAX_REQUEST_BYTES is refused with 413
    # while it is read; one that takes longer than REQUEST_BODY_TIMEOUT_S to arrive gets 408.
    max_request_bytes: int = Field(1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    request_body_timeout_s: float = Field(30.0, gt=0, le=3600)
    # A job's context_json, serialized as compact JSON, and how deeply it may nest (422 over either).
    context_max_bytes: int = Field(64 * 1024, ge=2, le=16 * 1024 * 1024)

    # Event streams (both kinds) one API process serves at once; more are answered 503 with
    # Retry-After (docs/api.md#get-jobsidevents). Unset: sized for the machine, from the process's
    # open-file limit (services/api/streams.py).
    sse_max_streams: int | None = Field(None, ge=1)

    # Critic and policy gate (seed names).
    critic_enabled: bool = False
    critic_max_reworks: int = Field(2, ge=0, le=20)
    # The seed's critic demo: with the critic on, this share of jobs (chosen by job id) get an
    # incomplete first attempt from the mock model, so the critic has something to send back.
    critic_demo_fault_rate: float = Field(0.3, ge=0, le=1)
    # The critic also asks the model to judge each output (with its rule checks).
    critic_llm: bool = False
    policy_gate_enabled: bool = False
    policy_mode: Literal["dev", "staging", "prod"] = "dev"
    policy_config_path: Path = Path("config/policy.yaml")

    @model_validator(mode="after")
    def _usable(self) -> Settings:
        provider = self.llm_provider
        if provider == "openai" and not self.openai_api_key:
            raise ValueError("LLM_PROVIDER=openai needs a key: set OPENAI_API_KEY")
        if provider == "anthropic" and not self.anthropic_api_key:
            raise ValueError("LLM_PROVIDER=anthropic needs a key: set ANTHROPIC_API_KEY")
        if provider == "openai_compatible" and not self.llm_base_url:
            raise ValueError(
                "LLM_PROVIDER=openai_compatible needs the server's address: set LLM_BASE_URL "
                "(e.g. http://localhost:11434/v1 for Ollama)"
            )
        if provider == "openai_compatible" and not self.llm_model:
            raise ValueError("LLM_PROVIDER=openai_compatible needs a model name: set LLM_MODEL")
        return self

    @property
    def tool_modules(self) -> list[str]:
        """PLANWRIGHT_TOOLS as a list of module names."""
        return [name.strip() for name in self.planwright_tools.split(",") if name.strip()]

    @property
    def model(self) -> str:
        """The model to call: LLM_MODEL, or the provider's default."""
        return self.llm_model or DEFAULT_MODELS.get(self.llm_provider, "")

    @property
    def replan_rounds(self) -> int:
        """REPLAN_MAX_ROUNDS, or its default for the planner in use."""
        if self.replan_max_rounds is not None:
            return self.replan_max_rounds
        return 1 if self.planner_mode == "llm" else 0

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @cached_property
    def db_url(self) -> str:
        """The SQLAlchemy async URL: the embedded SQLite file, or DATABASE_URL with an async driver."""
        if self.database_url is None:
            return f"sqlite+aiosqlite:///{self.planwright_data_dir / 'planwright.db'}"
        return async_db_url(self.database_url)

    @property
    def artifact_dir(self) -> Path:
        return self.planwright_data_dir / "artifacts"


def async_db_url(url: str) -> str:
    """Accept the plain ``postgresql://`` form users type and pick the async driver for it."""
    for plain in ("postgresql://", "postgres://", "postgresql+psycopg2://", "postgresql+psycopg://"):
        if url.startswith(plain):
            return "postgresql+asyncpg://" + url[len(plain) :]
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning a validation failure into a ConfigError that names the variable."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            var = "_".join(str(p) for p in err["loc"]).upper()
            problems.append(f"{var}: {err['msg']}" if var else err["msg"])
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from exc
