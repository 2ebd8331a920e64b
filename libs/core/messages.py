"""Messages on the bus: pydantic models in one union tagged by ``type``.

Every message that concerns a task carries ``(job_id, task_id, attempt)`` so that a consumer can
tell a duplicate or a stale attempt from news.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from planwright.core import tracing
from planwright.core.llm.base import LLMCall
from planwright.core.plan import PlanSpec


class _Msg(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    job_id: UUID
    # The W3C trace context of the span the message was built in (empty when nothing is traced): the
    # receiver's span for it is that span's child, so one job is one trace across every process.
    trace: dict[str, str] = Field(default_factory=tracing.carrier)


class _TaskMsg(_Msg):
    task_id: UUID
    attempt: int = Field(ge=1)

    def ident(self) -> dict[str, Any]:
        """``(job_id, task_id, attempt)`` as keyword arguments, for the reply about the same attempt."""
        return {"job_id": self.job_id, "task_id": self.task_id, "attempt": self.attempt}


class JobCreated(_Msg):
    type: Literal["job.created"] = "job.created"
    goal: str
    context: dict[str, Any] = {}
    priority: int = 0
    money_left: float | None = None  # US dollars the planner's calls may cost (docs/llm.md#budgets)


class PlanStarted(_Msg):
    """The planner took the job (job: pending -> planning)."""

    type: Literal["plan.started"] = "plan.started"
    planner: str


class PlanProgress(_Msg):
    """The LLM planner's answer as it streams (coalesced, llm/stream.py); ``attempt`` is its ask."""

    type: Literal["plan.progress"] = "plan.progress"
    attempt: int = Field(1, ge=1)
    delta: str


class PlanCreated(_Msg):
    type: Literal["plan.created"] = "plan.created"
    plan: PlanSpec
    planner: str
    notes: list[str] = []  # e.g. why the rule planner stood in for the model
    llm_calls: list[LLMCall] = []


class PlanFailed(_Msg):
    type: Literal["plan.failed"] = "plan.failed"
    reason: str
    llm_calls: list[LLMCall] = []


class TaskFailure(BaseModel):
    """One task that failed for good (or was blocked), as a replan request tells the planner."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    key: str
    tool: str
    status: Literal["failed", "blocked"]
    error: str
    critic_reasons: list[str] = []  # the critic's last reasons, when it rejected the task


class PlanReplanRequested(_Msg):
    """Asks the planner for the next version of a job's plan after a task failed for good.

    Tasks that succeeded must be kept exactly (same key, tool, args, ...): they are not run again,
    and the Orchestrator refuses a replan that changes or drops one.
    """

    type: Literal["plan.replan_requested"] = "plan.replan_requested"
    goal: str
    context: dict[str, Any] = {}
    version: int = Field(ge=1)  # the plan version that failed; the answer names it too
    round: int = Field(ge=1)  # which replan of the job this is (1 .. REPLAN_MAX_ROUNDS)
    plan: PlanSpec
    outputs: dict[str, dict[str, Any]] = {}  # of the tasks that succeeded, by key
    failures: list[TaskFailure]
    refused: list[str] = []  # why the previous replan of this round's failure was refused, if one was
    tokens_left: int | None = None  # of the job's token budget (the policy's job.max_tokens), if any
    money_left: float | None = None  # US dollars the planner's calls may cost, if the job has a budget


class PlanReplanned(_Msg):
    """The planner's answer to ``plan.replan_requested``: the next plan version, or why there is none."""

    type: Literal["plan.replanned"] = "plan.replanned"
    version: int = Field(ge=1)  # the version it replaces (the request's)
    round: int = Field(ge=1)  # the request's: an answer to an earlier round is stale
    plan: PlanSpec | None
    planner: str
    reason: str | None = None  # why there is no plan
    notes: list[str] = []
    llm_calls: list[LLMCall] = []


class TaskReady(_TaskMsg):
    """Asks the policy gate for a decision on a task that may run."""

    type: Literal["task.ready"] = "task.ready"
    tool: str
    args: dict[str, Any]


class TaskAllowed(_TaskMsg):
    type: Literal["task.allowed"] = "task.allowed"
    rule: str = ""
    reason: str = ""


class TaskNeedsApproval(_TaskMsg):
    type: Literal["task.needs_approval"] = "task.needs_approval"
    rule: str
    reason: str


class TaskBlocked(_TaskMsg):
    type: Literal["task.blocked"] = "task.blocked"
    reason: str
    rule: str = ""


class TaskDispatch(_TaskMsg):
    """Everything a worker needs to run one attempt, so workers never read the database."""

    type: Literal["task.dispatch"] = "task.dispatch"
    key: str
    tool: str
    args: dict[str, Any]
    goal: str
    context: dict[str, Any] = {}  # the job's context_json
    priority: int = 0
    inputs: dict[str, dict[str, Any]] = {}
    feedback: str | None = None
    not_before: float | None = None  # unix time; set on retries (backoff)
    tokens_left: int | None = None  # of the job's token budget (the policy's job.max_tokens), if any
    # US dollars the attempt's model calls may cost: what is left of the job's budget and of its
    # tenant's day, whichever is smaller (docs/llm.md#budgets); None: no money limit applies.
    money_left: float | None = None
    dispatched_at: float | None = None  # unix time the Orchestrator dispatched it (queue-wait metric)


class TaskStarted(_TaskMsg):
    type: Literal["task.started"] = "task.started"
    worker: str
    # Which delivery of the dispatch this is: above 1, the worker took the attempt over (its earlier
    # worker died or hung), and the task's running event names the new worker.
    delivery: int = Field(1, ge=1)


class TaskProgress(_TaskMsg):
    type: Literal["task.progress"] = "task.progress"
    message: str = ""
    # The model's streamed text since the previous delta of this attempt (coalesced, llm/stream.py).
    delta: str | None = None


class TaskCompleted(_TaskMsg):
    type: Literal["task.completed"] = "task.completed"
    output: dict[str, Any]
    llm_calls: list[LLMCall] = []


class TaskFailed(_TaskMsg):
    type: Literal["task.failed"] = "task.failed"
    error: str
    retryable: bool = False
    llm_calls: list[LLMCall] = []
    # A model call refused for the money budget (CostBudgetExceeded): the job stops, as when over it.
    over_budget: bool = False


class TaskReview(_TaskMsg):
    """Asks the critic for a verdict on a completed task."""

    type: Literal["task.review"] = "task.review"
    key: str
    tool: str
    title: str
    goal: str
    output: dict[str, Any]
    args: dict[str, Any] = {}
    tokens_left: int | None = None  # of the job's token budget, for a model-judged review
    money_left: float | None = None  # US dollars, as in TaskDispatch


class CriticVerdict(_TaskMsg):
    type: Literal["critic.verdict"] = "critic.verdict"
    verdict: Literal["approve", "rework"]
    reasons: list[str] = []
    llm_calls: list[LLMCall] = []


Message = Annotated[
    JobCreated
    | PlanStarted
    | PlanProgress
    | PlanCreated
    | PlanFailed
    | PlanReplanRequested
    | PlanReplanned
    | TaskReady
    | TaskAllowed
    | TaskNeedsApproval
    | TaskBlocked
    | TaskDispatch
    | TaskStarted
    | TaskProgress
    | TaskCompleted
    | TaskFailed
    | TaskReview
    | CriticVerdict,
    Field(discriminator="type"),
]

_ADAPTER: TypeAdapter[Message] = TypeAdapter(Message)


def encode(message: Message) -> bytes:
    return message.model_dump_json().encode()


def decode(data: bytes | str) -> Message:
    return _ADAPTER.validate_json(data)
