"""Ids of new jobs and tasks: UUIDs whose first 48 bits are the time (RFC 9562's version 7).

A version 4 UUID is random all through, so the rows of the jobs a process works on at once sit on as
many different pages of every index that begins with a job's or a task's id (the primary keys,
``ix_events_job_id``, ``ix_tasks_job_position``, ``ix_llm_calls_job``, ...): every commit rewrote a
page of each index per job it touched. Ids made in the same moment sort together, so the jobs in
flight share a few pages at the end of each index instead (docs/performance.md, eighteenth round;
ADR 0039). The remaining 74 bits are random, from the operating system's generator: an id still
cannot be guessed (and access goes by tenant anyway, never by knowing an id).
"""

from __future__ import annotations

import os
import time
from uuid import UUID

_VERSION = 0x7 << 76
_VARIANT = 0b10 << 62
_RAND_A = 0xFFF  # 12 bits after the version
_RAND_B = (1 << 62) - 1  # 62 bits after the variant


def new_id() -> UUID:
    """A new version 7 UUID: milliseconds since the Unix epoch, then 74 random bits."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits, 74 of them used
    rand_a = (rand >> 64) & _RAND_A
    return UUID(int=(ms << 80) | _VERSION | (rand_a << 64) | _VARIANT | (rand & _RAND_B))
