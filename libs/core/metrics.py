"""Every Prometheus metric Planwright exports, in one place (docs/observability.md).

Names follow ``planwright_<noun>_<unit>``. Labels are bounded sets (routes, statuses, tools, streams,
providers, models): never job or task ids. Metrics live in prometheus_client's default registry, so
one process exports everything it does: the API's ``/metrics`` in embedded mode has every service's
numbers; in distributed mode each service process serves its own on METRICS_PORT.
"""

from __future__ import annotations

import bisect
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from planwright.core.llm.base import LLMCall

log = logging.getLogger(__name__)

_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_SLOW = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)

HTTP_REQUESTS = Counter(
    "planwright_http_requests_total",
    "HTTP requests answered, by route template.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "planwright_http_request_duration_seconds",
    "Time to the start of the response (for SSE: until the stream opens).",
    ["route", "method"],
    buckets=_FAST,
)
JOBS_FINISHED = Counter("planwright_jobs_finished_total", "Jobs that reached a terminal status.", ["status"])
JOB_DURATION = Histogram(
    "planwright_job_duration_seconds", "From POST /jobs to the terminal status.", ["status"], buckets=_SLOW
)
TASKS_FINISHED = Counter(
    "planwright_tasks_finished_total", "Tasks that reached a terminal status.", ["tool", "status"]
)
TASK_DURATION = Histogram(
    "planwright_task_duration_seconds",
    "From the task's start to its end, last attempt.",
    ["tool", "status"],
    buckets=_SLOW,
)
TASK_QUEUE_WAIT = Histogram(
    "planwright_task_queue_wait_seconds",
    "From dispatch (or the end of a retry's backoff) to a worker starting the task.",
    ["lane"],
    buckets=(*_FAST, 30, 60, 300),
)
MESSAGES_RECLAIMED = Counter(
    "planwright_messages_reclaimed_total", "Messages taken over from a consumer that went quiet.", ["stream"]
)
MESSAGES_DEAD_LETTERED = Counter(
    "planwright_messages_dead_lettered_total", "Messages given up on after MAX_DELIVERIES.", ["stream"]
)
CRITIC_VERDICTS = Counter("planwright_critic_verdicts_total", "Critic verdicts by result.", ["verdict"])
POLICY_DECISIONS = Counter(
    "planwright_policy_decisions_total",
    "Policy decisions recorded, by decision and tool.",
    ["decision", "tool"],
)
LLM_CALLS = Counter("planwright_llm_calls_total", "Model calls made.", ["provider", "model", "purpose"])
LLM_TOKENS = Counter(
    "planwright_llm_tokens_total", "Model tokens used, input and output.", ["provider", "model", "direction"]
)
LLM_COST = Counter(
    "planwright_llm_cost_usd_total",
    "Estimated model cost in US dollars of the calls stored (priced models only).",
    ["provider", "model"],
)
LLM_DURATION = Histogram(
    "planwright_llm_call_duration_seconds",
    "One model call, with the SDK's retries.",
    ["provider", "model"],
    buckets=_SLOW,
)
SSE_OPEN = Gauge(
    "planwright_sse_connections_open", "Open SSE streams (job events and the jobs list).", ["stream"]
)
SSE_REFUSED = Counter(
    "planwright_sse_streams_refused_total",
    "Event streams not opened: reason=full, answered 503 (the process had SSE_MAX_STREAMS open); "
    "reason=client_gone, the client had left before its stream opened (nothing was read for it).",
    ["stream", "reason"],
)
OUTBOX_BACKLOG = Gauge("planwright_outbox_backlog_messages", "Outbox rows committed but not yet on the bus.")
ORCHESTRATOR_CONFLICTS = Counter(
    "planwright_orchestrator_conflicts_total",
    "Orchestrator batches applied again under the row lock: another replica had written one of their jobs.",
)
DEPENDENCY_UNAVAILABLE = Gauge(
    "planwright_dependency_unavailable",
    "Outages in progress: components waiting for the database or Redis to answer again.",
    ["component", "dependency"],
)
REPLANS = Counter(
    "planwright_replans_total",
    "Replanning (REPLAN_MAX_ROUNDS): outcome=requested, a round asked of the planner; accepted, its "
    "answer became the next plan version; refused, its answer was none or broke a rule.",
    ["outcome"],
)
# Retention (RETENTION_DAYS, planwright prune): what was deleted, counted where it was deleted.
RETENTION_ROWS = Counter(
    "planwright_retention_pruned_rows_total", "Rows deleted by retention, by table.", ["table"]
)
RETENTION_FILES = Counter(
    "planwright_retention_pruned_files_total", "Artifact files deleted by retention (no row named them)."
)
RETENTION_BYTES = Counter(
    "planwright_retention_pruned_bytes_total", "Bytes of the artifact files retention deleted."
)


_M = TypeVar("_M", bound=MetricWrapperBase)
_children: dict[tuple[MetricWrapperBase, tuple[str, ...]], Any] = {}


def labelled(metric: _M, *values: str) -> _M:
    """``metric.labels(*values)``, remembered. prometheus_client checks and converts the values and
    takes a lock at every call (~2.4 us here; a task's way through counts several), a look-up here
    ~0.3 us. Each child lives as long as its metric anyway (none is ever removed), and label values
    are bounded sets (see above), so this holds no more than prometheus_client does."""
    key = (metric, values)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*values)
    return cast(_M, child)


def job_finished(status: str, seconds: float) -> None:
    labelled(JOBS_FINISHED, status).inc()
    labelled(JOB_DURATION, status).observe(max(seconds, 0.0))


def task_finished(tool: str, status: str, seconds: float | None) -> None:
    labelled(TASKS_FINISHED, tool, status).inc()
    if seconds is not None:
        labelled(TASK_DURATION, tool, status).observe(max(seconds, 0.0))


def llm_call(call: LLMCall) -> None:
    labelled(LLM_CALLS, call.provider, call.model, call.purpose).inc()
    labelled(LLM_TOKENS, call.provider, call.model, "input").inc(call.input_tokens)
    labelled(LLM_TOKENS, call.provider, call.model, "output").inc(call.output_tokens)
    labelled(LLM_DURATION, call.provider, call.model).observe(call.latency_ms / 1000)


def llm_call_stored(call: LLMCall) -> None:
    """Counted by the Orchestrator once it stored the call: the metric adds up to GET /usage."""
    if call.cost_usd:
        LLM_COST.labels(call.provider, call.model).inc(call.cost_usd)


@dataclass(frozen=True)
class StreamStat:
    stream: str
    length: int
    group: str | None = None
    lag: int | None = None  # entries the group has not read yet
    pending: int | None = None  # read but not acknowledged


class StreamStats(Collector):
    """Stream length, consumer-group lag and pending entries, from the last ``update`` (a loop in the
    process refreshes them; a scrape never waits for Redis)."""

    def __init__(self) -> None:
        self.stats: list[StreamStat] = []

    def update(self, stats: Iterable[StreamStat]) -> None:
        self.stats = list(stats)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        length = GaugeMetricFamily(
            "planwright_stream_length_messages", "Entries in the stream.", labels=["stream"]
        )
        lag = GaugeMetricFamily(
            "planwright_stream_lag_messages",
            "Entries a consumer group has not read yet.",
            labels=["stream", "group"],
        )
        pending = GaugeMetricFamily(
            "planwright_stream_pending_messages",
            "Entries a consumer group read but has not acknowledged.",
            labels=["stream", "group"],
        )
        seen: set[str] = set()
        for s in self.stats:
            if s.stream not in seen:
                seen.add(s.stream)
                length.add_metric([s.stream], s.length)
            if s.group is not None:
                if s.lag is not None:
                    lag.add_metric([s.stream, s.group], s.lag)
                if s.pending is not None:
                    pending.add_metric([s.stream, s.group], s.pending)
        yield from (length, lag, pending)


STREAMS = StreamStats()
REGISTRY.register(STREAMS)


class FullCollections(Collector):
    """How long each full (generation 2) garbage collection stopped this process: every job and every
    event stream in it waits through one (docs/adr/0030). ``timed`` is the ``gc.callbacks`` entry that
    times them (``heap.settle`` installs it in a service's process). It only adds to plain numbers:
    a collection can start inside any code, a metric's lock held included, so it takes no lock; a
    scrape reads the numbers as they are."""

    BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

    def __init__(self) -> None:
        self.counts = [0] * (len(self.BUCKETS) + 1)  # the last: above every bucket
        self.seconds = 0.0
        self._started = 0.0

    def timed(self, phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != 2:  # young collections: a few per millisecond at most, each short
            return
        now = time.perf_counter()
        if phase == "start":
            self._started = now
            return
        took = now - self._started
        self.seconds += took
        self.counts[bisect.bisect_left(self.BUCKETS, took)] += 1

    def collect(self) -> Iterator[HistogramMetricFamily]:
        cumulative, buckets = 0, []
        for bound, count in zip((*map(str, self.BUCKETS), "+Inf"), self.counts, strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        yield HistogramMetricFamily(
            "planwright_gc_full_collection_seconds",
            "Full garbage collections of this process, by how long each stopped it.",
            buckets=buckets,
            sum_value=self.seconds,
        )


FULL_COLLECTIONS = FullCollections()
REGISTRY.register(FULL_COLLECTIONS)
