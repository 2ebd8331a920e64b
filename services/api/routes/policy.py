"""The policy in force, and a dry run of a goal or plan against it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from planwright.core.errors import ConfigError, PlanwrightError
from planwright.core.plan import PlanSpec
from planwright.core.planning.rules import RuleBasedPlanner
from planwright.core.policy import Decision, PolicyEngine
from planwright.services.api import schemas
from planwright.services.api.deps import RuntimeDep
from planwright.services.runtime import Runtime

router = APIRouter(tags=["policy"])


class PolicyUnavailable(PlanwrightError):
    code = "policy_unavailable"
    status_code = 409


class PolicyOut(BaseModel):
    gate_enabled: bool = Field(description="POLICY_GATE_ENABLED: whether the policy is enforced.")
    mode: str = Field(description="POLICY_MODE")
    config_path: str
    environments: list[str]
    policy: dict[str, Any] | None = Field(description="The section of the file for this mode.")


class EvaluateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    goal: str | None = Field(
        None, min_length=1, max_length=10_000, description="Planned first, as a job would be."
    )
    plan: PlanSpec | None = None
    mode: str | None = Field(None, description="Defaults to POLICY_MODE.")

    @model_validator(mode="after")
    def _one(self) -> EvaluateIn:
        if (self.goal is None) == (self.plan is None):
            raise ValueError("give either a goal or a plan")
        return self


class TaskDecisionOut(BaseModel):
    key: str
    tool: str
    decision: str
    rule: str
    reason: str


class ProblemOut(BaseModel):
    rule: str
    reason: str


class EvaluateOut(BaseModel):
    mode: str
    gate_enabled: bool
    allowed: bool
    tasks: list[TaskDecisionOut]
    problems: list[ProblemOut]


def _outcome(decision: Decision) -> str:
    if not decision.allowed:
        return "block"
    return "needs_approval" if decision.needs_approval else "allow"


def _engine(runtime: Runtime) -> PolicyEngine:
    if runtime.policy is not None:
        return runtime.policy.engine
    try:
        return PolicyEngine.load(runtime.settings.policy_config_path)
    except ConfigError as exc:
        raise PolicyUnavailable(exc.message) from exc


@router.get("/policy", response_model=PolicyOut, responses={409: {"model": schemas.ErrorOut}})
async def get_policy(runtime: RuntimeDep) -> PolicyOut:
    """The policy for POLICY_MODE (read from POLICY_CONFIG_PATH even while the gate is off)."""
    engine = _engine(runtime)
    s = runtime.settings
    env = engine.environment(s.policy_mode)
    return PolicyOut(
        gate_enabled=s.policy_gate_enabled,
        mode=s.policy_mode,
        config_path=str(s.policy_config_path),
        environments=sorted(engine.policy.environments),
        policy=env.model_dump(mode="json") if env else None,
    )


@router.post(
    "/policy/evaluate",
    response_model=EvaluateOut,
    responses={409: {"model": schemas.ErrorOut}, 422: {"model": schemas.ErrorOut}},
)
async def evaluate(body: EvaluateIn, runtime: RuntimeDep) -> EvaluateOut:
    """What the policy would allow, block, and why, for a goal (planned as a job would be) or a plan.
    Nothing runs and nothing is stored."""
    engine = _engine(runtime)
    mode = body.mode or runtime.settings.policy_mode
    if body.plan is not None:
        plan = body.plan
    else:
        assert body.goal is not None
        plan = RuleBasedPlanner(runtime.registry, max_tasks=runtime.settings.plan_max_tasks).plan(body.goal)
    check = engine.check_plan(mode, [(t.key, t.tool, t.args) for t in plan.tasks])
    return EvaluateOut(
        mode=mode,
        gate_enabled=runtime.settings.policy_gate_enabled,
        allowed=check.allowed,
        tasks=[
            TaskDecisionOut(
                key=t.key,
                tool=t.tool,
                decision=_outcome(d := check.decisions[t.key]),
                rule=d.rule,
                reason=d.reason,
            )
            for t in plan.tasks
        ],
        problems=[ProblemOut(rule=p.rule, reason=p.reason) for p in check.problems],
    )
