"""Every stream, consumer group and event type name, in one place."""

from __future__ import annotations

from typing import Final

PREFIX: Final = "pw"

# Streams: one per kind of work, consumed by one group each.
JOBS: Final = f"{PREFIX}:jobs"  # job.created -> planner
ORCHESTRATOR: Final = f"{PREFIX}:orchestrator"  # every result and decision -> orchestrator
READY: Final = f"{PREFIX}:ready"  # task.ready -> policy gate
REVIEW: Final = f"{PREFIX}:review"  # task.review -> critic
# task.dispatch -> workers, one lane per priority band; workers drain higher lanes first.
DISPATCH_LANES: Final = (f"{PREFIX}:dispatch:high", f"{PREFIX}:dispatch:normal", f"{PREFIX}:dispatch:low")
DEAD_LETTER: Final = f"{PREFIX}:dead"
# Set once in a fresh Redis; its absence means Redis lost its data (see Bus.fresh_epoch).
EPOCH: Final = f"{PREFIX}:epoch"
# <ALIVE><consumer>: a consumer's liveness, renewed while its process runs (expires when it dies).
ALIVE: Final = f"{PREFIX}:alive:"
# Which jobs got new events (a wake-up for live job lists; the list itself is read from Postgres).
JOBS_CHANGED: Final = f"{PREFIX}:jobs-changed"
# <FEED_WATCHERS><job id>: which API processes watch the job's live events (see feed_watchers).
FEED_WATCHERS: Final = f"{PREFIX}:watchers:"

# Every work stream, for metrics (the dead-letter stream included).
WORK_STREAMS: Final = (JOBS, ORCHESTRATOR, READY, REVIEW, *DISPATCH_LANES, DEAD_LETTER)

# Consumer groups.
G_PLANNER: Final = "planner"
G_ORCHESTRATOR: Final = "orchestrator"
G_POLICY: Final = "policy"
G_CRITIC: Final = "critic"
G_WORKER: Final = "worker"


def dispatch_lane(priority: int) -> str:
    """The dispatch stream for a job priority (0..9, higher first): 7-9 high, 1-6 normal, 0 low."""
    if priority >= 7:
        return DISPATCH_LANES[0]
    if priority >= 1:
        return DISPATCH_LANES[1]
    return DISPATCH_LANES[2]


def feed_watchers(job_id: object) -> str:
    """Which API processes watch a job's live events (distributed mode): a sorted set of their live
    feeds' ids, each scored with the time its watch lapses unless renewed (ms, Redis's clock)."""
    return f"{FEED_WATCHERS}{job_id}"


def feed_inbox(feed_id: str) -> str:
    """An API process's live feed's inbox (distributed mode): a stream of (job, event id) wake-ups
    for the jobs it watches, appended by the other processes that commit them."""
    return f"{PREFIX}:feedbox:{feed_id}"


def feed_control(feed_id: str) -> str:
    """An API process's live feed's control stream: wakes its own reader."""
    return f"{PREFIX}:feedctl:{feed_id}"
