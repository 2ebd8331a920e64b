"""``POST /jobs`` with an ``Idempotency-Key``: a retried submission returns the first job.

The key is remembered per tenant for 24 hours with the SHA-256 of the request (goal, context,
priority), in the same transaction as the job it created (services/api/orchestrator/intake.py), so a
job exists exactly when its key does. The same key with the same request returns that job (200); with
another request it is refused (422). Two requests with one key at the same moment: the unique key
lets one job in, and the other request answers with it.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from datetime import timedelta

import sqlalchemy as sa

from planwright.core.db.schema import idempotency_keys
from planwright.core.errors import PlanwrightError
from planwright.core.events import as_utc, utcnow
from planwright.services.api import queries, schemas
from planwright.services.runtime import Runtime

OPEN_TENANT = "default"  # whose jobs are submitted while the API runs open
KEEP = timedelta(hours=24)
_KEY = re.compile(r"[\x21-\x7e]{1,255}")
_PURGE_EVERY_S = 60.0
_purged_at = -_PURGE_EVERY_S


class InvalidIdempotencyKey(PlanwrightError):
    code = "invalid_idempotency_key"
    status_code = 422


class IdempotencyKeyReused(PlanwrightError):
    code = "idempotency_key_reused"
    status_code = 422


def digest(body: schemas.JobCreate) -> str:
    # Unset fields left out: a goal's request digests as it did before plans existed.
    text = json.dumps(
        body.model_dump(mode="json", exclude_none=True),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


async def lookup(
    runtime: Runtime, tenant: str, key: str, body: schemas.JobCreate
) -> tuple[schemas.JobDetail | None, tuple[str, str]]:
    """The job an earlier request with ``key`` made (None if none within 24 h), and what to store
    with a new job. Raises for a malformed key or a key used with another request."""
    if not _KEY.fullmatch(key):
        raise InvalidIdempotencyKey("Idempotency-Key must be 1-255 printable ASCII characters without spaces")
    body_sha256 = digest(body)
    await _purge(runtime)
    query = sa.select(idempotency_keys).where(
        idempotency_keys.c.tenant == tenant, idempotency_keys.c.key == key
    )
    async with runtime.engine.connect() as conn:
        row = (await conn.execute(query)).first()
        if row is None or as_utc(row.created_at) < utcnow() - KEEP:
            if row is not None:
                await conn.execute(
                    idempotency_keys.delete().where(
                        idempotency_keys.c.tenant == tenant, idempotency_keys.c.key == key
                    )
                )
                await conn.commit()
            return None, (key, body_sha256)
        if row.body_sha256 != body_sha256:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used in the last 24 h for another request "
                f"(job {row.job_id}); send a new key for a new job"
            )
        return await queries.get_job(conn, row.job_id, runtime.settings.jaeger_url, tenant), (
            key,
            body_sha256,
        )


async def _purge(runtime: Runtime) -> None:
    """Forget keys older than 24 h, at most once a minute per process."""
    global _purged_at
    if time.monotonic() - _purged_at < _PURGE_EVERY_S:
        return
    _purged_at = time.monotonic()
    async with runtime.engine.begin() as conn:
        await conn.execute(idempotency_keys.delete().where(idempotency_keys.c.created_at < utcnow() - KEEP))
