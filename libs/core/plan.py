"""A Plan: the tasks a goal is broken into, each naming its tool and the tasks it waits for."""

from __future__ import annotations

import heapq
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TASK_KEY_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


class TaskSpec(BaseModel):
    """One step of a plan. ``depends_on`` names the keys of tasks whose results this one needs."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=TASK_KEY_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    critic_required: bool = False


class PlanSpec(BaseModel):
    """A DAG of tasks. Structural checks (keys, dependencies, cycles, tools) live in ``validate_plan``."""

    model_config = ConfigDict(extra="forbid")

    tasks: list[TaskSpec]

    def topological_order(self) -> list[str]:
        """Task keys, each after all its dependencies; among ready tasks, plan order wins.

        Assumes a validated plan: unknown dependencies are ignored and tasks on a cycle are left out.
        """
        index = {task.key: i for i, task in enumerate(self.tasks)}
        waiting = {task.key: {d for d in task.depends_on if d in index} for task in self.tasks}
        dependents: dict[str, list[str]] = {key: [] for key in index}
        for key, deps in waiting.items():
            for dep in deps:
                dependents[dep].append(key)
        ready = [index[key] for key, deps in waiting.items() if not deps]
        heapq.heapify(ready)
        keys = [task.key for task in self.tasks]
        order: list[str] = []
        while ready:
            key = keys[heapq.heappop(ready)]
            order.append(key)
            for child in dependents[key]:
                waiting[child].discard(key)
                if not waiting[child]:
                    heapq.heappush(ready, index[child])
        return order
