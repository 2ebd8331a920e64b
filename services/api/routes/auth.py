"""Signing the web UI in and out, and API keys for admins (docs/security.md)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from planwright.core import apikeys
from planwright.core.apikeys import KeyInfo
from planwright.core.errors import NotFound, Unauthorized
from planwright.core.events import utcnow
from planwright.services.api import schemas
from planwright.services.api.auth import (
    COOKIE,
    OPEN,
    KeyRing,
    Principal,
    credential,
    principal_of,
    session_token,
)
from planwright.services.api.deps import RuntimeDep

router = APIRouter(tags=["auth"])
_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": schemas.ErrorOut},
    403: {"model": schemas.ErrorOut},
    404: {"model": schemas.ErrorOut},
    409: {"model": schemas.ErrorOut},
    422: {"model": schemas.ErrorOut},
}


def _ring(request: Request) -> KeyRing:
    ring: KeyRing = request.app.state.keyring
    return ring


async def _caller(request: Request, key: str | None) -> Principal:
    found = await _ring(request).caller(key)
    if found is None:
        raise Unauthorized(
            "the API key is unknown or revoked" if key else "not signed in: this API needs an API key"
        )
    return found


def _session(request: Request, principal: Principal) -> schemas.SessionOut:
    return schemas.SessionOut(**principal.describe(_ring(request).label))


@router.get("/auth/session", response_model=schemas.SessionOut, responses=_ERRORS)
async def who_am_i(request: Request) -> schemas.SessionOut:
    """Who the caller is (``auth: open`` when the API needs no key); 401 without a valid key."""
    return _session(request, await _caller(request, credential(request.scope["headers"])))


@router.post("/auth/session", response_model=schemas.SessionOut, responses=_ERRORS)
async def sign_in(
    body: schemas.SessionIn, request: Request, response: Response, runtime: RuntimeDep
) -> schemas.SessionOut:
    """Check an API key and start a session for it (the web UI's sign-in): its token, never the key,
    goes into an HttpOnly, SameSite=Strict cookie. The session lasts 7 days, until it is ended, or
    until the key is revoked."""
    if body.key.startswith(apikeys.SESSION_PREFIX):
        raise Unauthorized("sign in with an API key, not a session")
    principal = await _caller(request, body.key)
    if principal is not OPEN:
        info = await _ring(request).find(body.key)
        assert info is not None  # _caller found it
        async with runtime.engine.begin() as conn:
            token, expires = await apikeys.start_session(conn, info)
        await _ring(request).refresh()  # known here at once (other replicas reread on first sight)
        response.set_cookie(
            COOKIE,
            token,
            max_age=int((expires - utcnow()).total_seconds()),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
    return _session(request, principal)


@router.delete("/auth/session", status_code=204, responses=_ERRORS)
async def sign_out(request: Request, runtime: RuntimeDep) -> Response:
    """End the session: its token stops working on every API process (this one at once, the
    others within AUTH_REFRESH_S), and the cookie is cleared."""
    token = session_token(request.scope["headers"])
    if token is not None:
        async with runtime.engine.begin() as conn:
            await apikeys.end_session(conn, token)
        await _ring(request).refresh()
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


def _key_out(info: KeyInfo) -> schemas.KeyOut:
    return schemas.KeyOut(
        id=info.id,
        tenant=info.tenant,
        name=info.name,
        scopes=sorted(info.scopes),
        prefix=info.prefix,
        created_at=info.created_at,
        revoked_at=info.revoked_at,
    )


@router.get("/keys", response_model=list[schemas.KeyOut], responses=_ERRORS)
async def list_keys(request: Request, runtime: RuntimeDep) -> list[schemas.KeyOut]:
    """The tenant's API keys, revoked ones included (admin scope). Never the keys themselves."""
    async with runtime.engine.connect() as conn:
        return [_key_out(k) for k in await apikeys.list_keys(conn, principal_of(request).tenant)]


@router.post("/keys", status_code=201, response_model=schemas.KeyCreated, responses=_ERRORS)
async def create_key(body: schemas.KeyIn, request: Request, runtime: RuntimeDep) -> schemas.KeyCreated:
    """A new key of the caller's tenant (admin scope); the answer holds the key, shown this once."""
    own = principal_of(request).tenant
    if own is not None and body.tenant not in (None, own):
        raise NotFound(f"tenant {body.tenant} not found")
    async with runtime.engine.begin() as conn:
        key, info = await apikeys.create(
            conn,
            tenant=own or body.tenant or "default",
            name=body.name,
            scopes=apikeys.parse_scopes(body.scopes),
        )
    await _ring(request).refresh()
    return schemas.KeyCreated(**_key_out(info).model_dump(), key=key)


@router.delete("/keys/{key_id}", response_model=schemas.KeyOut, responses=_ERRORS)
async def revoke_key(key_id: UUID, request: Request, runtime: RuntimeDep) -> schemas.KeyOut:
    """Revoke a key of the caller's tenant (admin scope); every API process stops taking it within
    AUTH_REFRESH_S, this one at once."""
    async with runtime.engine.begin() as conn:
        info = await apikeys.revoke(conn, str(key_id), principal_of(request).tenant)
    await _ring(request).refresh()
    return _key_out(info)
