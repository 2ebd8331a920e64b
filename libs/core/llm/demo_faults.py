"""The seed's critic demo: the mock model sometimes leaves the required content out of a first attempt.

Deterministic per job (seeded by its id), so a test or a demo can count on a rework happening.
Only active when the critic is enabled; the rate is CRITIC_DEMO_FAULT_RATE.
"""

from __future__ import annotations

import hashlib
import re
from uuid import UUID

_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")


def faulty(job_id: UUID, attempt: int, rate: float) -> bool:
    """True when this job's first attempt should come out incomplete."""
    if attempt != 1 or rate <= 0:
        return False
    draw = int.from_bytes(hashlib.sha256(job_id.bytes).digest()[:8], "big") / 2**64
    return draw < rate


def leave_out_items(text: str) -> str:
    """The text without its list items: the headings and prose stay, the substance goes."""
    kept = [line for line in text.splitlines() if not _ITEM.match(line)]
    return "\n".join(kept).strip() + "\n"
