"""New jobs' and tasks' ids: version 7 UUIDs, ordered by the time they were made."""

from __future__ import annotations

import time
from uuid import RFC_4122, UUID

from planwright.core.ids import new_id


def _ms() -> int:
    return time.time_ns() // 1_000_000


def _next_ms(after: int) -> None:
    """Return once the clock's millisecond is past ``after`` (a millisecond or so; no fixed sleep)."""
    while _ms() <= after:
        time.sleep(0.0002)


def test_an_id_is_a_version_7_uuid_stamped_with_the_time_it_was_made() -> None:
    before = _ms()
    made = new_id()
    after = _ms()
    assert isinstance(made, UUID)
    assert made.version == 7
    assert made.variant == RFC_4122  # the variant bits 10 (RFC 9562 keeps RFC 4122's)
    assert before <= made.int >> 80 <= after  # the first 48 bits: Unix time in milliseconds
    assert UUID(str(made)) == made  # a string round trip, as the API and the database see it


def test_ids_made_later_sort_after_as_uuids_as_text_and_as_bytes() -> None:
    made = []
    for _ in range(5):
        made.append(new_id())
        _next_ms(made[-1].int >> 80)
    assert made == sorted(made)
    assert [str(u) for u in made] == sorted(str(u) for u in made)  # SQLite stores the hex text
    assert [u.bytes for u in made] == sorted(u.bytes for u in made)  # Postgres compares the bytes


def test_ids_made_in_the_same_millisecond_differ_in_their_random_bits() -> None:
    made = [new_id() for _ in range(10_000)]
    assert len(set(made)) == len(made)
    same_ms = [u for u in made if u.int >> 80 == made[0].int >> 80]
    low_bits = {u.int & ((1 << 62) - 1) for u in same_ms}
    assert len(low_bits) == len(same_ms)  # 62 of the 74 random bits, unique within the millisecond
    rand_a = {(u.int >> 64) & 0xFFF for u in made}
    assert len(rand_a) > 1000  # the 12 bits after the version vary too (4,096 values; ~3,700 expected)
