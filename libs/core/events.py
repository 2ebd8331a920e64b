"""The job event log: what ``GET /jobs/{id}/events`` streams, one typed payload per state change."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

EventType = Literal[
    "job.created",
    "job.planning",
    "job.running",
    "job.succeeded",
    "job.failed",
    "job.cancelled",
    "plan.progress",
    "plan.created",
    "plan.replanned",
    "task.pending",
    "task.ready",
    "task.awaiting_approval",
    "task.awaiting_input",
    "task.queued",
    "task.running",
    "task.progress",
    "task.reviewing",
    "task.retrying",
    "task.succeeded",
    "task.failed",
    "task.blocked",
    "task.skipped",
    "task.cancelled",
    "task.superseded",
    "critic.verdict",
    "policy.decision",
]

JOB_TERMINAL_EVENTS: frozenset[str] = frozenset({"job.succeeded", "job.failed", "job.cancelled"})


class EventDraft(BaseModel):
    """An event about to be appended in the current transaction."""

    model_config = ConfigDict(frozen=True)
    job_id: UUID
    type: EventType
    task_id: UUID | None = None
    data: dict[str, Any] = {}


class Event(EventDraft):
    """A committed event. ``id`` strictly increases within a job; SSE uses it as the event id."""

    id: int
    created_at: datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(ts: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
