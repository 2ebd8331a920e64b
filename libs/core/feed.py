"""Live fan-out of committed events to SSE clients: one subscription per job per process."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Protocol
from uuid import UUID

from planwright.core.events import Event


class Subscription:
    """A client's view of one job's live events. ``lagged`` means events were dropped: re-read the DB.

    ``direct``, while set by the reader (only when it is idle, waiting on an empty queue), takes
    offered events straight to the client and answers True; False (it cannot write now) queues them.

    The queue is a deque and one future while the reader waits, not an ``asyncio.Queue``: thousands of
    subscriptions live as long as their streams, and a Queue's four deques and event are objects the
    garbage collector walks (docs/adr/0033)."""

    def __init__(self, job_id: UUID, maxsize: int = 1024) -> None:
        self.job_id = job_id
        self.maxsize = maxsize
        # None in the queue: the subscription was closed (its client left); stop reading.
        self._queued: deque[Event | None] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self.lagged = False
        self.closed = False
        self.direct: Callable[[Sequence[Event]], bool] | None = None

    def empty(self) -> bool:
        return not self._queued

    def get_nowait(self) -> Event | None:
        """The next queued item (IndexError if none)."""
        return self._queued.popleft()

    async def get(self) -> Event | None:
        """The next queued item, waiting for one (None: the subscription was closed)."""
        while not self._queued:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._queued.popleft()

    def _put(self, item: Event | None) -> bool:
        if len(self._queued) >= self.maxsize:
            return False
        self._queued.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        return True

    def close(self) -> None:
        """The reader should stop: wakes it with None (or, if its queue is full, it sees ``closed``
        when it next looks)."""
        self.closed = True
        self._put(None)

    def drain(self) -> None:
        """Forget queued events and the lag flag (the caller re-reads the database)."""
        self._queued.clear()
        self.lagged = False

    def offer(self, event: Event) -> None:
        if not self._put(event):
            self.lagged = True

    def offer_all(self, events: Sequence[Event]) -> None:
        """Offer events of this job, in id order (one commit's): written at once by ``direct`` when
        it can, without waking the reader, else queued."""
        if self.direct is not None and not self._queued and self.direct(events):
            return
        for event in events:
            self.offer(event)


def by_job(events: Sequence[Event]) -> dict[UUID, list[Event]]:
    """``events`` grouped by job, each group in the order given."""
    groups: dict[UUID, list[Event]] = {}
    for event in events:
        groups.setdefault(event.job_id, []).append(event)
    return groups


class JobChanges:
    """A client's view of which jobs changed (for a live jobs list): a set, so it never lags.

    ``everything`` means "assume any job changed" (too many to list, or announcements were lost).
    """

    MAX_IDS = 1000

    def __init__(self) -> None:
        self.job_ids: set[UUID] = set()
        self.everything = False
        self._wake = asyncio.Event()

    def offer(self, job_ids: Iterable[UUID]) -> None:
        self.job_ids.update(job_ids)
        if len(self.job_ids) > self.MAX_IDS:
            self.offer_everything()
        self._wake.set()

    def offer_everything(self) -> None:
        self.everything = True
        self.job_ids.clear()
        self._wake.set()

    async def wait(self) -> None:
        """Until something was offered since the last ``take``."""
        await self._wake.wait()

    def take(self) -> tuple[set[UUID], bool]:
        """What changed since the last take: ``(job_ids, everything)``."""
        taken = (self.job_ids, self.everything)
        self.job_ids, self.everything = set(), False
        self._wake.clear()
        return taken


class EventFeed(Protocol):
    async def publish(self, events: Sequence[Event], follows: Mapping[UUID, int] | None = None) -> None:
        """Hand committed events to every live subscriber (all processes in distributed mode).

        ``follows``: for a job, the id of its last event before these, where the committer knows it
        (no other process wrote the job in between): subscribers in this process that were handed
        exactly that far get the events without reading them back."""

    async def subscribe(self, job_id: UUID, *, new: bool = False) -> Subscription:
        """Start receiving the job's events; every event committed after this returns is offered.
        ``new``: the job is not stored yet (its id was just made), so it has no events to look up:
        subscribing reads nothing, and its first commit's events are handed over as they commit."""

    def unsubscribe(self, sub: Subscription) -> None: ...

    def batched(self) -> AbstractContextManager[None]:
        """While in it, what the feed and the bus send to Redis goes in one write (see announce)."""

    async def watch_jobs(self) -> JobChanges:
        """Start hearing which jobs get new events; every commit after this returns is offered."""

    def unwatch_jobs(self, changes: JobChanges) -> None: ...

    async def close(self) -> None: ...


class MemoryFeed:
    """The embedded feed: publishers and subscribers live in one process."""

    def __init__(self) -> None:
        self._subs: dict[UUID, set[Subscription]] = {}
        self._boards: set[JobChanges] = set()

    def batched(self) -> AbstractContextManager[None]:
        return contextlib.nullcontext()  # nothing is sent anywhere

    async def publish(self, events: Sequence[Event], follows: Mapping[UUID, int] | None = None) -> None:
        if self._subs:
            for job_id, job_events in by_job(events).items():
                for sub in list(self._subs.get(job_id, ())):
                    sub.offer_all(job_events)
        if events and self._boards:
            job_ids = {event.job_id for event in events}
            for board in self._boards:
                board.offer(job_ids)

    async def watch_jobs(self) -> JobChanges:
        board = JobChanges()
        self._boards.add(board)
        return board

    def unwatch_jobs(self, changes: JobChanges) -> None:
        self._boards.discard(changes)

    async def subscribe(self, job_id: UUID, *, new: bool = False) -> Subscription:
        sub = Subscription(job_id)
        self._subs.setdefault(job_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.job_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.job_id]

    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subs.values())

    async def close(self) -> None:
        self._subs.clear()
        self._boards.clear()
