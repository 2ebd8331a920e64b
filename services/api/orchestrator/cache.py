"""The jobs an Orchestrator is working on, kept in memory between batches.

Loading a job is most of a batch's work (its row, every task row, their JSON), and consecutive
batches touch the same running jobs. A cached job is used as long as its ``version`` in the database
is the one this process last wrote; another replica's write moves the version and the job is loaded
again. Where this process is the only writer (embedded mode, one SQLite file), the cache is used
without asking the database.

A batch mutates the jobs it loaded; if its transaction fails they are dropped, so the cache only ever
holds committed state.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from uuid import UUID

from planwright.core.events import Event
from planwright.core.states import JOB_TERMINAL, JobStatus
from planwright.services.api.orchestrator.intake import NewJob
from planwright.services.api.orchestrator.state import JobState


class JobCache:
    def __init__(self, max_jobs: int = 4096, shared_s: float = 10.0) -> None:
        self._jobs: OrderedDict[UUID, JobState] = OrderedDict()
        self._max = max_jobs
        # Until when (monotonic) other replicas count as writing the same jobs as this one: a job
        # version moved under a copy here within the last ``shared_s``.
        self._shared_until = 0.0
        self._shared_s = shared_s

    def get(self, job_id: UUID) -> JobState | None:
        job = self._jobs.get(job_id)
        if job is not None:
            self._jobs.move_to_end(job_id)
        return job

    def committed(self, jobs: Iterable[JobState]) -> None:
        """Keep what a batch committed (finished jobs are let go: little more happens to them)."""
        for job in jobs:
            job.settle()
            if job.status in JOB_TERMINAL:
                self._jobs.pop(job.id, None)
            else:
                self._jobs[job.id] = job
                self._jobs.move_to_end(job.id)
        while len(self._jobs) > self._max:
            self._jobs.popitem(last=False)

    def created(self, new: Iterable[NewJob], events: Sequence[Event] = ()) -> None:
        """Jobs just stored by the intake, with their events (``job.created``): the Orchestrator's
        next batch for them needs no load."""
        newest = {event.job_id: event.id for event in events}
        self.committed(
            JobState(
                id=job.id,
                goal=job.goal,
                priority=job.priority,
                status=JobStatus.pending,
                error=None,
                plan_version=0,
                context=job.context,
                submitted_plan=job.plan,
                created_at=job.created_at,
                trace_parent=job.trace_parent,
                tenant=job.tenant,
                last_event=newest.get(job.id),
            )
            for job in new
        )

    def written_elsewhere(self) -> None:
        """Another replica wrote a job this process holds (its version moved under the copy)."""
        self._shared_until = time.monotonic() + self._shared_s

    def shared(self) -> bool:
        """Whether other replicas wrote this process's jobs lately. The bus hands a job's messages to
        whichever replica reads first, so where several run, they mostly share every job: a copy in
        memory is then often stale, and an optimistic write would often be done twice."""
        return time.monotonic() < self._shared_until

    def drop(self, job_ids: Iterable[UUID]) -> None:
        """Forget jobs a failed batch changed in memory."""
        for job_id in job_ids:
            self._jobs.pop(job_id, None)
