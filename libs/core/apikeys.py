"""API keys: made, listed and revoked here (the CLI and the admin routes), checked by the API.

A key is ``pw_`` and 43 random URL-safe characters (256 bits). Only its SHA-256 is stored: a fast hash
is enough for a secret of that entropy (there is nothing to guess by brute force), and it lets the API
find a key with one dictionary lookup. The key itself is shown once, when it is made.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from planwright.core.db.schema import api_keys, api_sessions
from planwright.core.errors import Conflict, NotFound, PlanwrightError
from planwright.core.events import as_utc, utcnow

# What a key may do. jobs:write submits, cancels and retries; approvals:write approves, rejects and
# answers ask_human questions; admin manages its tenant's keys and reads the policy.
SCOPES = ("jobs:read", "jobs:write", "approvals:write", "admin")
DEFAULT_SCOPES = ("jobs:read", "jobs:write", "approvals:write")
PREFIX = "pw_"
SESSION_PREFIX = "pws_"
SESSION_TTL = timedelta(days=7)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class InvalidKeyRequest(PlanwrightError):
    status_code = 422
    code = "validation_error"


@dataclass(frozen=True)
class KeyInfo:
    """A key as the API knows it: never the key itself."""

    id: uuid.UUID
    tenant: str
    name: str
    scopes: frozenset[str]
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def parse_scopes(text: str | Iterable[str]) -> frozenset[str]:
    """``jobs:read,jobs:write`` (or a list) checked against SCOPES; ``all`` means every scope."""
    items = [s.strip() for s in (text.split(",") if isinstance(text, str) else text) if s.strip()]
    if items == ["all"]:
        return frozenset(SCOPES)
    unknown = sorted(set(items) - set(SCOPES))
    if unknown:
        raise InvalidKeyRequest(
            f"unknown scope(s) {', '.join(unknown)}; scopes are {', '.join(SCOPES)} or all"
        )
    if not items:
        raise InvalidKeyRequest(f"a key needs at least one scope: {', '.join(SCOPES)}")
    return frozenset(items)


def check_name(what: str, value: str) -> str:
    if not _NAME.fullmatch(value):
        raise InvalidKeyRequest(
            f"{what} {value!r} must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    return value


async def create(
    conn: AsyncConnection, *, tenant: str, name: str, scopes: frozenset[str]
) -> tuple[str, KeyInfo]:
    """Store a new key; returns the key (to show once) and what is stored of it."""
    check_name("tenant", tenant)
    check_name("name", name)
    key = PREFIX + secrets.token_urlsafe(32)
    info = KeyInfo(
        id=uuid.uuid4(),
        tenant=tenant,
        name=name,
        scopes=scopes,
        prefix=key[:10],
        created_at=utcnow(),
        revoked_at=None,
    )
    row = {
        "id": info.id,
        "tenant": tenant,
        "name": name,
        "scopes": sorted(scopes),
        "prefix": info.prefix,
        "sha256": digest(key),
        "created_at": info.created_at,
    }
    try:
        await conn.execute(api_keys.insert(), [row])
    except IntegrityError as exc:
        raise Conflict(f"tenant {tenant} already has a key named {name}; pick another name") from exc
    return key, info


def _info(row: Any) -> KeyInfo:
    return KeyInfo(
        id=row.id,
        tenant=row.tenant,
        name=row.name,
        scopes=frozenset(row.scopes),
        prefix=row.prefix,
        created_at=as_utc(row.created_at),
        revoked_at=as_utc(row.revoked_at) if row.revoked_at is not None else None,
    )


async def list_keys(conn: AsyncConnection, tenant: str | None = None) -> list[KeyInfo]:
    """Every key (of ``tenant`` when given), revoked ones included, oldest first."""
    query = sa.select(api_keys).order_by(api_keys.c.created_at)
    if tenant is not None:
        query = query.where(api_keys.c.tenant == tenant)
    return [_info(row) for row in await conn.execute(query)]


async def revoke(conn: AsyncConnection, which: str, tenant: str | None = None) -> KeyInfo:
    """Revoke a key named by its id, its prefix or ``tenant/name``; revoking twice is a no-op."""
    keys = await list_keys(conn, tenant)
    found = [
        k
        for k in keys
        if which in (str(k.id), k.prefix, f"{k.tenant}/{k.name}") or (tenant and which == k.name)
    ]
    if len(found) != 1:
        raise NotFound(
            f"no key {which!r}" if not found else f"{which!r} names several keys; use the key's id"
        )
    key = found[0]
    if key.revoked_at is None:
        now = utcnow()
        await conn.execute(api_keys.update().where(api_keys.c.id == key.id).values(revoked_at=now))
        key = KeyInfo(**{**key.__dict__, "revoked_at": now})
    return key


async def active(conn: AsyncConnection) -> dict[str, KeyInfo]:
    """The keys not revoked, by their SHA-256."""
    query = sa.select(api_keys).where(api_keys.c.revoked_at.is_(None))
    return {row.sha256: _info(row) for row in await conn.execute(query)}


async def ever_made(conn: AsyncConnection) -> bool:
    """Whether any key was ever made (revoked ones count: revoking the last key must not open the API)."""
    return (await conn.execute(sa.select(sa.exists().select_from(api_keys)))).scalar() is True


async def start_session(conn: AsyncConnection, key: KeyInfo) -> tuple[str, datetime]:
    """A web UI session for ``key``: its token (the cookie's value; only its SHA-256 is stored) and
    when it expires. It ends earlier when the key is revoked or the session is ended."""
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    expires = now + SESSION_TTL
    await conn.execute(
        api_sessions.insert(),
        [{"sha256": digest(token), "key_id": key.id, "created_at": now, "expires_at": expires}],
    )
    # Expired sessions go as new ones come: the table holds about the live ones only.
    await conn.execute(api_sessions.delete().where(api_sessions.c.expires_at < now))
    return token, expires


async def end_session(conn: AsyncConnection, token: str) -> None:
    await conn.execute(api_sessions.delete().where(api_sessions.c.sha256 == digest(token)))


async def live_sessions(conn: AsyncConnection) -> dict[str, tuple[uuid.UUID, datetime]]:
    """Sessions not expired, by their token's SHA-256: (key id, expiry)."""
    query = sa.select(api_sessions).where(api_sessions.c.expires_at > utcnow())
    return {row.sha256: (row.key_id, as_utc(row.expires_at)) for row in await conn.execute(query)}
