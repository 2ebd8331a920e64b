"""Who may call the API, from where, how often: one ASGI layer in front of every route.

``Guard`` checks, in this order and before any route runs:

1. the ``Host`` header against ``PLANWRIGHT_ALLOWED_HOSTS`` (400): a page on another site cannot reach
   a local instance by DNS rebinding;
2. for a request that changes state, that it is not cross-site (``Origin`` / ``Sec-Fetch-Site``,
   403) and carries no body but JSON (415): another site's form post cannot approve a task;
3. the credentials: ``Authorization: Bearer <key>``, or the ``planwright_session`` cookie holding
   the session token that ``POST /auth/session`` gave for a key (401), and the scope the route
   needs (403);
4. the key's (or, on an open API, the client address's) request rate (429 with ``Retry-After``).

Whether keys are needed follows ``PLANWRIGHT_AUTH`` and the keys that exist (``KeyRing``, reread
every ``AUTH_REFRESH_S``). The route then reads the caller from the scope (``principal_of``) and
answers only with the caller's tenant's data: another tenant's ids are 404s, never 403s.
Health, metrics, the API docs and the UI's own files need no key.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from planwright.core import apikeys, outage
from planwright.core.apikeys import SCOPES, KeyInfo
from planwright.core.events import utcnow
from planwright.core.settings import Settings
from planwright.services.api.errors import send_error
from planwright.services.api.ratelimit import Limiter

log = logging.getLogger(__name__)

COOKIE = "planwright_session"
PRINCIPAL = "planwright.principal"  # where the Guard leaves the caller in the ASGI scope
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_LOCAL = frozenset({"127.0.0.1", "::1"})


@dataclass(frozen=True)
class Principal:
    """The caller: a key of a tenant, or anyone (``tenant`` None) while the API runs open."""

    tenant: str | None
    key_name: str | None
    scopes: frozenset[str]
    key_id: str | None = None

    def describe(self, auth: str) -> dict[str, Any]:
        return {"auth": auth, "tenant": self.tenant, "key_name": self.key_name, "scopes": sorted(self.scopes)}


OPEN = Principal(tenant=None, key_name=None, scopes=frozenset(SCOPES))


def principal_of(request: Request) -> Principal:
    """The caller of a request the Guard let through (OPEN for an app run without the Guard)."""
    principal: Principal = request.scope.get(PRINCIPAL, OPEN)
    return principal


def tenant_of(request: Request) -> str | None:
    """The tenant whose data the request may see; None: every tenant's (the API runs open)."""
    return principal_of(request).tenant


def required_scope(method: str, path: str) -> str | None:
    """The scope a route needs; None for what anyone may read (health, metrics, docs, the UI)."""
    if method == "OPTIONS":
        return None
    write = method in _UNSAFE
    if path == "/jobs" or path.startswith("/jobs/"):
        return "jobs:write" if write else "jobs:read"
    if path.startswith("/tasks/"):
        if write:
            return "approvals:write" if path.endswith(("/approve", "/reject", "/input")) else "jobs:write"
        return "jobs:read"
    if path.startswith("/artifacts/") or path in ("/tools", "/usage"):
        return "jobs:read"  # /usage: other tenants' usage needs admin too (routes/usage.py)
    if path in ("/policy", "/keys") or path.startswith(("/policy/", "/keys/")):
        return "admin"
    return None


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an interface to bind or a client address) is this machine only."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


class KeyRing:
    """The keys that are not revoked, and the web UI's live sessions, as an API process knows them:
    reread every ``refresh_s``, and when a key or session it does not know is presented (rereads at
    most twice a second, shared by the requests waiting for them), so a new one works at once on
    every replica and a revoked or ended one stops within ``refresh_s``. An unknown credential's 401
    waits for that reread: up to half a second, which also slows down guessing."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self._engine = engine
        self.mode = settings.planwright_auth
        self.refresh_s = settings.auth_refresh_s
        self._keys: dict[str, KeyInfo] = {}
        self._ever = False  # a key was made, at some time (revoked or not)
        self._by_id: dict[UUID, KeyInfo] = {}
        self._sessions: dict[str, tuple[UUID, datetime]] = {}
        self._started_at = -math.inf  # when the last reread began
        self._loaded_from = -math.inf  # when the reread whose result is in use began
        self._refreshing: asyncio.Task[None] | None = None
        self._loop: asyncio.Task[None] | None = None

    @property
    def required(self) -> bool:
        """Whether a request needs a key now: in ``auto`` mode, once any key has been made (revoking
        every key locks the API rather than opening it)."""
        return self.mode == "keys" or (self.mode == "auto" and (self._ever or bool(self._keys)))

    @property
    def label(self) -> str:
        return "keys" if self.required else "open"

    async def refresh(self) -> None:
        started = self._started_at = time.monotonic()
        async with self._engine.connect() as conn:
            keys = await apikeys.active(conn)
            sessions = await apikeys.live_sessions(conn)
            ever = bool(keys) or await apikeys.ever_made(conn)
        if started >= self._loaded_from:  # a slower, older reread must not undo a newer one
            self._keys, self._sessions, self._ever = keys, sessions, ever
            self._by_id = {k.id: k for k in keys.values()}
            self._loaded_from = started

    async def start(self) -> None:
        await self.refresh()
        self._loop = asyncio.create_task(self._reread(), name="keyring")

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop

    async def _reread(self) -> None:
        away = outage.Outage("auth", "keeping the keys known last until it answers", log)
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await self.refresh()
            except Exception as exc:  # keep the keys known last
                if outage.unavailable(exc):
                    away.failed(exc)  # (said once per outage)
                else:
                    log.warning(
                        "auth: rereading the API keys failed (%s); keeping the last ones", type(exc).__name__
                    )
            else:
                away.recovered()

    def _lookup(self, secret: str) -> KeyInfo | None:
        """The active key ``secret`` is, or whose live session it is."""
        if not secret.startswith(apikeys.SESSION_PREFIX):
            return self._keys.get(apikeys.digest(secret))
        session = self._sessions.get(apikeys.digest(secret))
        if session is None or session[1] <= utcnow():
            return None
        return self._by_id.get(session[0])  # None once the key is revoked

    async def find(self, secret: str) -> KeyInfo | None:
        found = self._lookup(secret)
        if found is not None:
            return found
        # Made since the last reread? Wait for a reread that began after this request arrived.
        asked = time.monotonic()
        while self._loaded_from < asked:
            if self._refreshing is None or self._refreshing.done():
                self._refreshing = asyncio.create_task(self._refresh_soon())
            try:
                await asyncio.shield(self._refreshing)
            except Exception:
                return None  # the database is away: only the keys known already work
        return self._lookup(secret)

    async def _refresh_soon(self) -> None:
        """A reread, half a second after the last one began at the earliest."""
        if (wait := self._started_at + 0.5 - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        await self.refresh()

    async def principal(self, secret: str) -> Principal | None:
        """The caller an API key or a session token stands for; None if neither is live."""
        info = await self.find(secret)
        if info is None:
            return None
        return Principal(tenant=info.tenant, key_name=info.name, scopes=info.scopes, key_id=str(info.id))

    async def caller(self, secret: str | None) -> Principal | None:
        """Who sends ``secret``: anyone (OPEN) while no key is needed, else its key's principal, or
        None (a 401) for no secret or one that is not live."""
        if not self.required:
            return OPEN
        return await self.principal(secret) if secret else None


def credential(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The key in ``Authorization: Bearer``, else the session cookie's value."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return _cookie(headers)


def session_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The session token in the session cookie."""
    value = _cookie(headers)
    return value if value is not None and value.startswith(apikeys.SESSION_PREFIX) else None


def _cookie(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The session cookie's value (the last one sent, if several)."""
    found = None
    for name, value in headers:
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == COOKIE and v:
                    found = v
    return found


def _host_name(host: str) -> str:
    """``Host`` without its port, lower-cased (``[::1]:8000`` -> ``[::1]``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Guard:
    """See the module's docstring. ``ring`` None: no keys at all (an app driven without its lifespan)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        ring: KeyRing | None,
        limiter: Limiter | None,
    ) -> None:
        self.app = app
        self.ring = ring
        self.limiter = limiter
        hosts = {h.strip().lower() for h in settings.planwright_allowed_hosts.split(",") if h.strip()}
        self.any_host = "*" in hosts
        self.hosts = frozenset(_host_name(h) for h in hosts)
        self.origins = frozenset(
            o.strip().rstrip("/") for o in settings.planwright_cors_origins.split(",") if o.strip()
        )
        self.submit_rate = settings.rate_limit_submit_per_s
        self.read_rate = settings.rate_limit_read_per_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        host = forwarded = origin = fetch_site = content_type = None
        for name, value in headers:
            if name == b"host":
                host = value.decode("latin-1")
            elif name == b"x-forwarded-host":
                forwarded = value.decode("latin-1").split(",", 1)[0].strip()
            elif name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"sec-fetch-site":
                fetch_site = value.decode("latin-1")
            elif name == b"content-type":
                content_type = value.decode("latin-1")
        if not self.any_host and (host is None or _host_name(host) not in self.hosts):
            await send_error(
                send,
                400,
                "invalid_host",
                f"this API does not answer to the host {host!r}; add it to PLANWRIGHT_ALLOWED_HOSTS",
            )
            return
        method, path = scope["method"], scope["path"]
        if method in _UNSAFE and (
            refusal := self._cross_site((host, forwarded), origin, fetch_site, content_type)
        ):
            await send_error(send, *refusal)
            return
        need = required_scope(method, path)
        if need is None:
            await self.app(scope, receive, send)
            return
        principal = OPEN
        if self.ring is not None and self.ring.required:  # (an open API skips reading credentials)
            key = credential(headers)
            found = await self.ring.caller(key)
            if found is None:
                why = "the API key is unknown or revoked" if key else "this API needs an API key"
                await send_error(
                    send,
                    401,
                    "unauthorized",
                    f"{why}: send it as 'Authorization: Bearer <key>' (planwright keys create makes one)",
                    headers={"WWW-Authenticate": "Bearer"},
                )
                return
            if need not in found.scopes:
                await send_error(send, 403, "forbidden", f"this key lacks the scope {need}")
                return
            principal = found
        if (subject := self._subject(scope, principal)) is not None and (
            wait := await self._wait(subject, method)
        ):
            await send_error(
                send,
                429,
                "rate_limited",
                f"too many requests; retry after {math.ceil(wait)} s",
                headers={"Retry-After": str(math.ceil(wait))},
            )
            return
        scope[PRINCIPAL] = principal
        await self.app(scope, receive, send)

    def _cross_site(
        self,
        hosts: tuple[str | None, str | None],
        origin: str | None,
        fetch_site: str | None,
        content_type: str | None,
    ) -> tuple[int, str, str] | None:
        """Why a state-changing request is refused, or None. ``hosts``: the Host header and the
        X-Forwarded-Host a proxy in front added (``make ui-dev``'s, a TLS terminator's); a page on
        another site cannot send the latter without a CORS preflight, which this API does not grant."""
        if origin is not None and origin.rstrip("/") not in self.origins:
            site = urlsplit(origin).netloc.lower()
            if origin == "null" or site not in {h.lower() for h in hosts if h}:
                return 403, "cross_site", "requests from another site cannot change state here"
        elif origin is None and fetch_site in ("cross-site", "same-site"):
            return 403, "cross_site", "requests from another site cannot change state here"
        if content_type is not None:
            media = content_type.split(";", 1)[0].strip().lower()
            if media != "application/json" and not media.endswith("+json"):
                return (
                    415,
                    "unsupported_media_type",
                    f"send a JSON body (Content-Type: application/json), not {media}",
                )
        return None

    def _subject(self, scope: Scope, principal: Principal) -> str | None:
        """Whose rate a request counts against: its key's, else (an open API) its client address's;
        None for the open API's own machine (the local user, and the bench)."""
        if self.limiter is None:
            return None
        if principal.key_id is not None:
            return f"key:{principal.key_id}"
        client = scope.get("client")
        if not client or client[0] in _LOCAL or is_loopback(client[0]):
            return None
        return f"ip:{client[0]}"

    async def _wait(self, subject: str, method: str) -> float:
        write = method in _UNSAFE
        rate = self.submit_rate if write else self.read_rate
        if not rate or self.limiter is None:
            return 0.0
        return await self.limiter.check(f"{'w' if write else 'r'}:{subject}", rate)


@contextlib.asynccontextmanager
async def keyring(engine: AsyncEngine, settings: Settings) -> AsyncIterator[KeyRing]:
    ring = KeyRing(engine, settings)
    await ring.start()
    try:
        yield ring
    finally:
        await ring.stop()
