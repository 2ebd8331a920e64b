"""The policy in force, and a dry run of a goal or plan against it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from planwright.core import netguard
from planwright.core.errors import ConfigError, PlanwrightError
from planwright.core.jsoncheck import check_json
from planwright.core.plan import PlanSpec, TaskSpec
from planwright.core.planning.rules import RuleBasedPlanner
from planwright.core.policy import Decision, PolicyEngine, netguard_decision
from planwright.services.api import schemas
from planwright.services.api.deps import RuntimeDep
from planwright.services.runtime import Runtime

router = APIRouter(tags=["policy"])
RESOLVE_S = 2.0  # how long POST /policy/evaluate waits for each URL's DNS answer


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

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: object) -> object:
        check_json(data, max_depth=64)  # no lone surrogate, NaN or deep nesting anywhere in it
        return data

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
    decisions = await _with_addresses(engine, mode, plan.tasks, check.decisions)
    return EvaluateOut(
        mode=mode,
        gate_enabled=runtime.settings.policy_gate_enabled,
        allowed=not check.problems and all(d.allowed for d in decisions.values()),
        tasks=[
            TaskDecisionOut(
                key=t.key,
                tool=t.tool,
                decision=_outcome(d := decisions[t.key]),
                rule=d.rule,
                reason=d.reason,
            )
            for t in plan.tasks
        ],
        problems=[ProblemOut(rule=p.rule, reason=p.reason) for p in check.problems],
    )


async def _with_addresses(
    engine: PolicyEngine, mode: str, tasks: Sequence[TaskSpec], decisions: dict[str, Decision]
) -> dict[str, Decision]:
    """The decisions, with each allowed task's URL also resolved and checked the way http_fetch
    checks it when it runs, so a name that leads to an internal address is blocked here too. A name
    that does not resolve (within RESOLVE_S) is left allowed: that is not the policy's call."""
    out = dict(decisions)

    async def resolve(task: TaskSpec) -> None:
        url = task.args.get("url")
        if not out[task.key].allowed or not isinstance(url, str):
            return
        policy = engine.net_policy(mode, task.tool, with_domains=False)
        try:
            await netguard.check_fetch(url, policy, timeout_s=RESOLVE_S)
        except netguard.Refused as exc:
            out[task.key] = netguard_decision(mode, task.tool, exc)
        except netguard.Unresolved:
            pass

    await asyncio.gather(*(resolve(t) for t in tasks))
    return out
