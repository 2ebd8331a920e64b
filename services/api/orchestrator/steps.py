"""What the Applier's parts (``Money``, ``Governance``, ``HumanInput``, ``Replanning``) call of the
Applier itself: its transitions. Declared once here for the type checker; the Applier defines them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from planwright.core.states import JobStatus, TaskStatus
    from planwright.services.api.orchestrator.state import Changes, JobState, TaskState


class Steps:
    if TYPE_CHECKING:  # provided by the Applier

        def _task(
            self, job: JobState, task: TaskState, status: TaskStatus, ch: Changes, **data: Any
        ) -> None: ...

        def _job(
            self, job: JobState, status: JobStatus, ch: Changes, error: str | None = None, **data: Any
        ) -> None: ...

        def _dispatch(
            self, job: JobState, task: TaskState, ch: Changes, *, feedback: str | None = None
        ) -> None: ...

        def advance(self, job: JobState, ch: Changes) -> None: ...
