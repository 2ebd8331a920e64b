"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from planwright.core.jsoncheck import check_json, check_text
from planwright.core.plan import PlanSpec
from planwright.core.settings import CONTEXT_MAX_DEPTH, GOAL_MAX_CHARS, PRIORITY_MAX, PRIORITY_MIN
from planwright.core.states import JobStatus, TaskStatus

# How deeply a submitted plan may nest (the plan, its tasks, their args): args get what context_json may.
PLAN_MAX_DEPTH = CONTEXT_MAX_DEPTH + 4


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    goal: str | None = Field(
        None,
        description=f"What the job should achieve, 1..{GOAL_MAX_CHARS} characters. Required unless a plan "
        "is given (then it defaults to a line naming the plan's tasks).",
    )
    plan: PlanSpec | None = Field(
        None,
        description="Run these tasks instead of asking the planner: validated like a planner's plan "
        "(known tools, argument schemas, $from references, cycles, size, the policy). See docs/api.md.",
    )
    max_tasks: int | None = Field(
        None,
        ge=1,
        description="With a plan: raise PLAN_MAX_TASKS for this job, up to the policy's job.max_tasks.",
    )
    context_json: dict[str, Any] = Field(
        default_factory=dict, description="Extra context for the planner (a JSON object)."
    )
    priority: int = Field(
        1, ge=PRIORITY_MIN, le=PRIORITY_MAX, description=f"{PRIORITY_MIN}..{PRIORITY_MAX}; higher runs first."
    )

    @field_validator("context_json", mode="before")
    @classmethod
    def _context(cls, v: object) -> object:
        if not isinstance(v, dict):
            raise ValueError(f"context_json must be a JSON object, got {type(v).__name__}")
        check_json(v, CONTEXT_MAX_DEPTH)  # its size is the route's to check: the limit is a setting
        return v

    @field_validator("plan", mode="before")
    @classmethod
    def _plan(cls, v: object) -> object:
        if v is not None:
            check_json(v, PLAN_MAX_DEPTH)
        return v

    @model_validator(mode="after")
    def _goal_or_plan(self) -> JobCreate:
        if self.goal is None and self.plan is None:
            raise ValueError("a goal is required, unless a plan is given")
        if self.max_tasks is not None and self.plan is None:
            raise ValueError("max_tasks applies to a submitted plan; a planner's plans keep PLAN_MAX_TASKS")
        return self

    @field_validator("goal")
    @classmethod
    def _goal(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = check_text(v).strip()
        if not v:
            raise ValueError("goal must not be empty")
        if len(v) > GOAL_MAX_CHARS:
            raise ValueError(f"goal is {len(v)} characters; the limit is {GOAL_MAX_CHARS}")
        return v


class TaskCounts(BaseModel):
    total: int
    succeeded: int
    failed: int
    running: int


class UsageOut(BaseModel):
    """Model calls and their tokens; cost is the price table's estimate (docs/llm.md)."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = Field(0.0, description="Estimated, over the calls whose model has a price.")
    unpriced_calls: int = Field(0, description="Calls whose model is not in the price table.")
    mock_calls: int = Field(
        0, description="Calls answered by the built-in mock model: what they wrote is placeholder text."
    )


class LLMCallOut(BaseModel):
    task_id: UUID | None = Field(description="null for planning.")
    attempt: int | None
    provider: str
    model: str
    purpose: str
    input_tokens: int
    output_tokens: int
    latency_ms: int
    cost_usd: float | None
    created_at: datetime


class JobOut(BaseModel):
    id: UUID
    goal: str
    context_json: dict[str, Any]
    priority: int
    status: JobStatus
    error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    tasks: TaskCounts
    usage: UsageOut = Field(default_factory=UsageOut, description="Model calls of the whole job.")
    cost_usd: float = Field(
        0.0, description="What its stored model calls cost (US dollars): checked against the budget."
    )
    budget_usd: float | None = Field(
        None, description="The policy's job.max_cost_usd, when one applies (GET /jobs/{id} only)."
    )
    trace_id: str | None = Field(
        None, description="The job's OpenTelemetry trace (null when tracing was off when it was submitted)."
    )
    trace_url: str | None = Field(None, description="The trace in Jaeger's UI, when JAEGER_URL is set.")
    pinned: bool = Field(
        False, description="Kept by retention whatever its age (POST and DELETE /jobs/{id}/pin)."
    )


class PlanTask(BaseModel):
    key: str
    title: str
    tool: str
    depends_on: list[str]
    critic_required: bool


class PlanOut(BaseModel):
    version: int
    planner: str
    created_at: datetime
    tasks: list[PlanTask]


class FieldChange(BaseModel):
    before: Any
    after: Any


class TaskChangeOut(BaseModel):
    key: str
    fields: dict[str, FieldChange] = Field(
        description="Each field that differs (title, description, tool, args, depends_on, critic_required)."
    )


class PlanDiffOut(BaseModel):
    """How a plan version differs from the one before it, by task key."""

    added: list[str]
    removed: list[str]
    changed: list[TaskChangeOut]


class PlanVersionOut(PlanOut):
    reason: str | None = Field(description="Why this version was made: null for the first plan.")
    diff: PlanDiffOut | None = Field(description="Against the version before (null for the first).")


class ArtifactOut(BaseModel):
    id: UUID
    job_id: UUID
    task_id: UUID
    attempt: int
    name: str
    sha256: str
    size: int
    media_type: str
    created_at: datetime
    content_url: str


class ResultTask(BaseModel):
    """One of the job's final tasks (no other task depends on it) in the job's result."""

    key: str
    title: str
    tool: str
    status: TaskStatus
    output: dict[str, Any] | None
    text: str | None = Field(description="The output's text, when it has one (markdown or plain text).")
    mock: bool = Field(description="The built-in mock model wrote this text: it is placeholder text.")


class JobResult(BaseModel):
    """What a finished job produced: its final tasks' outputs and every artifact it wrote."""

    text: str | None = Field(
        description="The final tasks' texts, in plan order (each under its title when there are several)."
    )
    tasks: list[ResultTask] = Field(description="The final tasks, in plan order.")
    artifacts: list[ArtifactOut] = Field(
        description="The artifacts of the tasks that succeeded (their last attempt), oldest first."
    )


class JobDetail(JobOut):
    plan: PlanOut | None
    result: JobResult | None = Field(
        None, description="null until the job has finished (succeeded, failed or cancelled)."
    )


class JobPage(BaseModel):
    items: list[JobOut]
    limit: int
    offset: int
    next_offset: int | None


class VerdictOut(BaseModel):
    attempt: int
    verdict: str
    reasons: list[str]
    created_at: datetime


class ArgsEditOut(BaseModel):
    original: dict[str, Any] = Field(description="The args as planned.")
    edited: dict[str, Any] = Field(description="The args the person approved; the task runs with these.")


class DecisionOut(BaseModel):
    attempt: int
    decision: str
    rule: str
    reason: str
    decided_by: str | None = Field(
        None,
        description="The name of the API key that approved, rejected or answered an ask_human question "
        "(null: the gate, or an open API).",
    )
    args_edit: ArgsEditOut | None = Field(
        None, description="An approval that changed the task's args: both versions (null otherwise)."
    )
    created_at: datetime


class TaskOut(BaseModel):
    id: UUID
    job_id: UUID
    position: int
    key: str
    title: str
    description: str
    tool: str
    args: dict[str, Any]
    depends_on: list[str]
    critic_required: bool
    status: TaskStatus
    plan_version: int = Field(1, description="The plan version that added the task.")
    attempt: int
    reworks: int
    output: dict[str, Any] | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    verdicts: list[VerdictOut] = Field(default_factory=list, description="Critic verdicts, oldest first.")
    policy_decisions: list[DecisionOut] = Field(default_factory=list, description="Policy Gate decisions.")
    usage: UsageOut = Field(default_factory=UsageOut, description="This task's model calls, all attempts.")


class ToolOut(BaseModel):
    name: str
    description: str
    args_schema: dict[str, Any]
    output_schema: dict[str, Any]
    side_effects: bool
    timeout_s: float
    source: str = Field(description='Where it comes from: "builtin", "plugin:<module>" or "mcp:<server>".')


class ServerStatusOut(BaseModel):
    """An MCP server as this API process sees it (docs/mcp.md#status)."""

    name: str
    transport: Literal["stdio", "http"]
    status: Literal["connected", "connecting", "down"]
    error: str | None = Field(description="Why it is down; null otherwise.")
    tools: int = Field(description="Its tools in the list (a down server keeps those it listed last).")
    since: datetime | None = Field(description="When it entered this status.")


class ToolsOut(BaseModel):
    tools: list[ToolOut]
    servers: list[ServerStatusOut] = Field(description="The MCP servers of config/mcp.yaml, in file order.")


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorOut(BaseModel):
    error: ErrorBody


class SessionOut(BaseModel):
    """Who the caller is: ``auth`` is ``open`` (no keys needed) or ``keys``."""

    auth: str
    tenant: str | None
    key_name: str | None
    scopes: list[str]


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=200, description="An API key (planwright keys create).")


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, description="Unique within the tenant, e.g. ci.")
    scopes: list[str] = Field(
        min_length=1, max_length=8, description="jobs:read, jobs:write, approvals:write, admin (or all)."
    )
    tenant: str | None = Field(
        None, max_length=64, description="Only on an open API; a key's own tenant otherwise."
    )


class KeyOut(BaseModel):
    id: UUID
    tenant: str
    name: str
    scopes: list[str]
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    key: str = Field(description="The key itself: shown this once, stored only as its SHA-256.")


class UsageTotals(BaseModel):
    """Model calls, tokens and estimated cost (US dollars) added up."""

    calls: int = 0
    unpriced_calls: int = Field(0, description="Calls whose model is not in the price table (no cost).")
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class UsageDay(UsageTotals):
    day: date = Field(description="A UTC day.")


class UsageModel(UsageTotals):
    provider: str
    model: str


class UsageTenant(UsageTotals):
    tenant: str


class UsageJob(BaseModel):
    id: UUID
    tenant: str
    goal: str = Field(description="The first 200 characters.")
    status: JobStatus
    created_at: datetime
    cost_usd: float
    tokens_used: int


class UsageReport(BaseModel):
    """GET /usage: spend per UTC day (every day of the range), per model, per tenant and the jobs that
    cost most, and the totals."""

    model_config = ConfigDict(populate_by_name=True)
    from_: date = Field(alias="from")
    to: date
    tenant: str | None = Field(description="Whose usage: null for every tenant's (admin or open API).")
    totals: UsageTotals
    days: list[UsageDay]
    models: list[UsageModel] = Field(description="Most expensive first.")
    tenants: list[UsageTenant] = Field(description="Most expensive first.")
    jobs: list[UsageJob] = Field(description="Jobs created in the range, most expensive first (top N).")
