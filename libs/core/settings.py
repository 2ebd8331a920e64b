"""One settings object per process, read from the environment with the seed's variable names."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from planwright.core.errors import ConfigError

PRIORITY_MIN = 0
PRIORITY_MAX = 9
GOAL_MAX_CHARS = 10_000


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

    # Planning.
    planner_mode: Literal["rules", "llm"] = "rules"
    llm_provider: Literal["mock", "openai"] = "mock"
    openai_api_key: str | None = None
    plan_max_tasks: int = Field(20, ge=1, le=500)

    # Execution.
    worker_concurrency: int = Field(8, ge=1, le=1024)
    task_max_retries: int = Field(2, ge=0, le=20)
    retry_backoff_s: float = Field(0.5, ge=0, le=60)
    http_fetch_max_bytes: int = Field(1_000_000, ge=1)
    # An unacked message idle this long is delivered again (a crashed consumer's work is reclaimed).
    visibility_timeout_s: float = Field(120.0, gt=0)
    max_deliveries: int = Field(5, ge=1)
    # On SIGTERM a worker lets in-flight tasks finish for this long, then releases them.
    shutdown_grace_s: float = Field(20.0, ge=0)
    # How often the Orchestrator checks whether Redis lost its data (then it reconciles).
    reconcile_check_s: float = Field(2.0, gt=0)

    # Critic and policy gate (seed names).
    critic_enabled: bool = False
    critic_max_reworks: int = Field(2, ge=0, le=20)
    # The seed's critic demo: with the critic on, this share of jobs (chosen by job id) get an
    # incomplete first attempt from the mock model, so the critic has something to send back.
    critic_demo_fault_rate: float = Field(0.3, ge=0, le=1)
    policy_gate_enabled: bool = False
    policy_mode: Literal["dev", "staging", "prod"] = "dev"
    policy_config_path: Path = Path("config/policy.yaml")

    @model_validator(mode="after")
    def _usable(self) -> Settings:
        if self.planner_mode == "llm" and self.llm_provider == "openai" and not self.openai_api_key:
            raise ValueError("PLANNER_MODE=llm with LLM_PROVIDER=openai needs OPENAI_API_KEY to be set")
        return self

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
