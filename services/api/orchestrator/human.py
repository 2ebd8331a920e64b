"""A person's input mid-plan: ask_human tasks wait in ``awaiting_input`` for an answer (ADR 0028).

Mixed into the Applier like ``Governance``: no I/O, everything recorded in ``Changes``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from planwright.core.errors import AnswerInvalid
from planwright.core.human_input import answer_output, answer_problems, question_of
from planwright.core.policy import EnvironmentPolicy
from planwright.core.settings import Settings
from planwright.core.states import TaskStatus
from planwright.services.api.orchestrator.state import Changes, JobState, TaskState
from planwright.services.api.orchestrator.steps import Steps


class HumanInput(Steps):
    settings: Settings

    if TYPE_CHECKING:  # provided by the Applier and Governance

        def _args_or_declared(self, job: JobState, task: TaskState) -> dict[str, Any]: ...

        def _env(self) -> EnvironmentPolicy | None: ...

        def _decision(
            self,
            job: JobState,
            task: TaskState,
            ch: Changes,
            decision: str,
            rule: str,
            reason: str,
            decided_by: str | None = None,
            args_edit: dict[str, Any] | None = None,
        ) -> None: ...

    def _await_input(self, job: JobState, task: TaskState, ch: Changes) -> None:
        """Where any other task would go to a worker: the question goes to a person instead."""
        self._task(job, task, TaskStatus.awaiting_input, ch, **question_of(self._args_or_declared(job, task)))

    def give_input(self, job: JobState, task: TaskState, ch: Changes, *, answer: Any, by: str | None) -> None:
        """A person's answer to a task awaiting input (the caller checked its state): valid against
        its schema or choices, else ``AnswerInvalid`` and nothing changes. The answer is the task's
        output; ``by`` names the API key that gave it (None while the API runs open)."""
        problems = answer_problems(self._args_or_declared(job, task), answer)
        if problems:
            raise AnswerInvalid(problems)
        task.output = answer_output(answer)
        text = task.output["text"]
        self._decision(
            job, task, ch, "answered", "human", text if len(text) <= 200 else text[:197] + "...", by
        )
        self._task(job, task, TaskStatus.succeeded, ch, **({"answered_by": by} if by else {}))
        self.advance(job, ch)

    def input_timeout_s(self) -> float | None:
        return env.input_timeout_s if (env := self._env()) else None

    def expire_input(self, job: JobState, task: TaskState, ch: Changes, timeout_s: float) -> None:
        rule = f"environments.{self.settings.policy_mode}.input_timeout_s"
        self._decision(job, task, ch, "expired", rule, f"no answer within {timeout_s:g}s")
        self._task(job, task, TaskStatus.failed, ch, error=f"input timed out after {timeout_s:g}s")
        self.advance(job, ch)
