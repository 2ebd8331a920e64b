"""Sizes of each workload (full and quick), the goals that make instant tasks, and the issue's targets."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Sizes:
    w1_jobs: int  # W1: jobs of a chain of 3
    w1_concurrency: int
    latency_runs: int  # W1-latency: one chain(3) job at a time, per client kind
    hop_chain: int  # hop: tasks in the chained job
    hop_runs: int
    fan_width: int  # W2: independent tasks before the join
    fan_runs: int
    large_runs: int  # W5: fetch a large page, then two artifact writes of its text
    post_serial: int  # POST /jobs back to back
    post_concurrent: int  # POST /jobs at post_concurrency
    post_concurrency: int
    get_requests: int  # GET /jobs/{id} and GET /healthz, sequential
    sse_jobs: int  # W4: held jobs, each followed by sse_clients / sse_jobs clients
    sse_clients: int
    sse_chain: int  # W4: summaries chained after the held fetch
    sse_procs: int  # W4: client processes
    scale_jobs: int  # distributed scale-out: W1 jobs per run
    idle_s: float  # idle time before reading RSS

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


FULL = Sizes(
    w1_jobs=1000,
    w1_concurrency=50,
    latency_runs=100,
    hop_chain=40,
    hop_runs=5,
    fan_width=100,
    fan_runs=5,
    large_runs=30,
    post_serial=200,
    post_concurrent=1000,
    post_concurrency=50,
    get_requests=500,
    sse_jobs=8,
    sse_clients=2000,
    sse_chain=10,
    sse_procs=2,
    scale_jobs=500,
    idle_s=2.0,
)

QUICK = Sizes(
    w1_jobs=30,
    w1_concurrency=50,
    latency_runs=5,
    hop_chain=10,
    hop_runs=1,
    fan_width=20,
    fan_runs=1,
    large_runs=2,
    post_serial=20,
    post_concurrent=100,
    post_concurrency=50,
    get_requests=50,
    sse_jobs=2,
    sse_clients=50,
    sse_chain=3,
    sse_procs=1,
    scale_jobs=30,
    idle_s=1.0,
)

# Server settings for every bench process: instant tasks (mock model, rule planner), nothing optional.
# Logging stays at its defaults (INFO: a line per request and per tool attempt), as a deployment has it.
SERVER_ENV = {
    "LLM_PROVIDER": "mock",
    "PLANNER_MODE": "rules",
    "CRITIC_ENABLED": "false",
    "POLICY_GATE_ENABLED": "false",
    "PLAN_MAX_TASKS": "200",
}
# Variables of the caller's shell that would change what is measured.
SERVER_ENV_DROP = (
    "DATABASE_URL",
    "REDIS_URL",
    "REDIS_KEY_PREFIX",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "PORT",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "PYTHONDONTWRITEBYTECODE",  # let Python cache bytecode, as a deployed image would have it
)

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"


# -- goals: the rule planner turns ';' / 'then' separated steps into tasks ---------------------------


def chain_goal(n: int) -> str:
    """n tasks, each depending on the one before: a note, then n-1 summaries of "it"."""
    return "Write a note" + "; then summarize it" * (n - 1)


def fanout_goal(width: int) -> str:
    """width independent notes, then one summary depending on all of them."""
    notes = "; ".join(f"Write note number {i}" for i in range(1, width + 1))
    return f"{notes}; then summarize all of them"


def held_goal(url: str, summaries: int) -> str:
    """A fetch of ``url`` (held by the bench until it lets go), then a chain of summaries."""
    return f"Fetch {url} then summarize it" + "; then summarize it" * (summaries - 1)


SINGLE_GOAL = "Write a note"

LARGE_PAGE_BYTES = 120_000  # W5: what the fetched page weighs (a long article, a model's long answer)


def large_plan(url: str) -> dict[str, Any]:
    """W5's explicit plan: fetch ``url``, then two artifact writes of the page's whole text. The text
    travels as the fetch's output, in both writes' dispatches and in their events; the writes are
    cheap, so the job measures the platform's handling of a large value, not a tool's work on it."""
    text = {"$from": "fetch.output.text"}
    return {
        "tasks": [
            {"key": "fetch", "title": "Fetch the page", "tool": "http_fetch", "args": {"url": url}},
            {
                "key": "save",
                "title": "Save the page",
                "tool": "file_write_artifact",
                "args": {"name": "page.txt", "content": text},
                "depends_on": ["fetch"],
            },
            {
                "key": "copy",
                "title": "Save a copy",
                "tool": "file_write_artifact",
                "args": {"name": "page-copy.txt", "content": text},
                "depends_on": ["fetch", "save"],
            },
        ]
    }


# Each shape: the tools in plan order and, per task, the positions it depends on.
Shape = list[tuple[str, list[int]]]


def chain_shape(n: int, first: str = "text_generate") -> Shape:
    return [(first, [])] + [("text_summarize", [i - 1]) for i in range(1, n)]


def fanout_shape(width: int) -> Shape:
    return [("text_generate", [])] * width + [("text_summarize", list(range(width)))]


# -- the targets (shown next to the figures, never asserted) ---------------------------------

# figure key -> (comparison, value); "info" targets are text only.
TARGETS: dict[str, tuple[str, float | str]] = {
    "w1_tasks_per_s": (">=", 700),
    "lat_sse_p50_ms": ("<=", 8),
    "lat_poll_p50_ms": ("<=", 8),
    "hop_ms": ("<=", 3),
    "w2_ms": ("<=", 80),
    "post_concurrent_per_s": (">=", 1000),
    "post_serial_mean_ms": ("<=", 3),
    "post_serial_p50_ms": ("<=", 3),
    "get_job_cpu_ms": ("<=", 1),
    "healthz_cpu_ms": ("info", "no DB query"),
    "w4_lag_p99_ms": ("<=", 50),
    "w4_connect_replay_s": ("<=", 2),
    "idle_rss_mb": ("<=", 90),
}
# Targets the issue sets for one mode only: idle RSS is `planwright up`'s (embedded mode).
TARGET_MODES: dict[str, str] = {"idle_rss_mb": "embedded"}
