"""``POST /jobs`` with a plan: checked here exactly as a planner's plan is, before the job exists.

Known tools, argument schemas, ``$from`` references, cycles and size (``validate_plan``), then, with
the gate on, the policy's plan-time rules (``check_plan``). A plan that fails is a 422 listing every
reason by task and field; one that passes goes to the Orchestrator without the planner.
"""

from __future__ import annotations

from planwright.core.errors import PlanInvalid
from planwright.core.plan import PlanSpec
from planwright.core.planning.validation import validate_plan
from planwright.core.settings import GOAL_MAX_CHARS
from planwright.services.runtime import Runtime

_NAMED_TASKS = 5  # how many task titles a derived goal names


def check_submitted(runtime: Runtime, plan: PlanSpec, max_tasks: int | None) -> None:
    """Raise ``PlanInvalid`` (422) with every reason ``plan`` must not run."""
    validate_plan(plan, runtime.registry, max_tasks=task_limit(runtime, max_tasks))
    if runtime.policy is None:
        return
    mode = runtime.settings.policy_mode
    check = runtime.policy.engine.check_plan(mode, [(t.key, t.tool, t.args) for t in plan.tasks])
    if not check.allowed:
        raise PlanInvalid([f"blocked by policy: {reason}" for reason in check.reasons])


def task_limit(runtime: Runtime, asked: int | None) -> int:
    """PLAN_MAX_TASKS, or the job's own ``max_tasks`` when the policy's job.max_tasks allows it."""
    default = runtime.settings.plan_max_tasks
    if asked is None or asked <= default:
        return asked or default
    policy = runtime.policy or runtime.guard_policy
    mode = runtime.settings.policy_mode
    ceiling = policy.engine.max_tasks(mode) if policy is not None else None
    if ceiling is None:
        raise PlanInvalid(
            [
                f"max_tasks {asked} is over PLAN_MAX_TASKS ({default}); a job may raise it only up to "
                f"the policy's environments.{mode}.job.max_tasks, which is not set"
            ]
        )
    if asked > ceiling:
        raise PlanInvalid(
            [f"max_tasks {asked} is over the policy's limit of {ceiling} (environments.{mode}.job.max_tasks)"]
        )
    return asked


def goal_of(plan: PlanSpec) -> str:
    """The goal shown for a plan submitted without one: "Run a plan of 3 tasks: Fetch, Sum, Save"."""
    titles = [t.title for t in plan.tasks[:_NAMED_TASKS]]
    more = len(plan.tasks) - len(titles)
    named = ", ".join(titles) + (f" and {more} more" if more else "")
    count = f"{len(plan.tasks)} task" + ("s" if len(plan.tasks) != 1 else "")
    return f"Run a plan of {count}: {named}"[:GOAL_MAX_CHARS]
