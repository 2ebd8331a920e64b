"""The GET behind the ``http_fetch`` tool, safe to point at any URL a plan names.

Every hop is checked by the network guard (``netguard.check_fetch``) and dialled at the addresses it
checked, never at a second DNS answer: the URL keeps its host name for the Host header, TLS SNI and
certificate checks, while the network backend connects to the pinned address. Redirects are followed
here, at most ``MAX_REDIRECTS``, each one checked again. The body may use at most one content coding;
it is decoded in bounded steps and reading stops at the byte cap, so a small compressed body cannot
grow past it, and the whole fetch has a time limit.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import weakref
import zlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx

from planwright.core import netguard
from planwright.core.errors import RetryableToolError, ToolError

MAX_REDIRECTS = 5
TOTAL_S = 15.0  # the whole fetch: every hop's DNS, connection and body (the tool's own timeout is 20 s)
CHUNK = 64 * 1024  # decoded bytes per decoding step: a few microseconds of CPU between yields
HEADERS = {"User-Agent": "planwright-http-fetch", "Accept-Encoding": "gzip, deflate"}
_REDIRECTS = (301, 302, 303, 307, 308)
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    status_code: int
    content_type: str
    charset: str | None
    body: bytes  # decoded, at most the cap
    truncated: bool


async def fetch(
    url: str, cap: int, policy: netguard.NetPolicy, *, resolver: netguard.Resolver | None = None
) -> Fetched:
    """GET ``url`` under ``policy``. Raises ``ToolError`` (refused, HTTP 4xx, bad body) or
    ``RetryableToolError`` (DNS, connection, 5xx/408/429, out of time)."""
    try:
        async with asyncio.timeout(TOTAL_S):
            return await _follow(url, cap, policy, resolver)
    except TimeoutError:
        raise RetryableToolError(f"fetching {url} took longer than {TOTAL_S:g}s") from None
    except httpx.UnsupportedProtocol as exc:
        raise ToolError(f"cannot fetch {url}: {exc}") from exc
    except httpx.TransportError as exc:  # connection refused, reset, timeouts
        raise RetryableToolError(f"fetching {url} failed: {type(exc).__name__}: {exc}") from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise ToolError(f"fetching {url} failed: {type(exc).__name__}: {exc}") from exc


async def _follow(
    url: str, cap: int, policy: netguard.NetPolicy, resolver: netguard.Resolver | None
) -> Fetched:
    client = _client()
    came_from: str | None = None
    for _ in range(MAX_REDIRECTS + 1):
        target = await _check(url, policy, resolver, came_from)
        pinned = _PIN.set(target)
        try:
            async with client.stream("GET", url, headers=HEADERS) as response:
                location = response.headers.get("location")
                if response.status_code not in _REDIRECTS or not location:
                    _check_status(url, response.status_code)
                    body, truncated = await _read_capped(response, cap, _coding(url, response))
                    content_type = response.headers.get("content-type", "")
                    charset = response.charset_encoding
                    return Fetched(
                        str(response.url), response.status_code, content_type, charset, body, truncated
                    )
                came_from, url = url, str(response.url.join(location))
        finally:
            _PIN.reset(pinned)
    raise ToolError(f"{came_from} redirected more than {MAX_REDIRECTS} times")


async def _check(
    url: str, policy: netguard.NetPolicy, resolver: netguard.Resolver | None, came_from: str | None
) -> netguard.Target:
    try:
        return await netguard.check_fetch(url, policy, resolver=resolver)
    except netguard.Refused as exc:
        what = (
            f"fetch {url}" if came_from is None else f"follow the redirect from {came_from} to {_shown(url)}"
        )
        raise ToolError(f"refused to {what}: {exc.reason}") from None
    except netguard.Unresolved as exc:
        raise RetryableToolError(f"fetching {_shown(url)} failed: {exc}") from None


def _shown(url: str) -> str:
    """``url`` without user info, for messages (a redirect may carry a password we never send)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "an invalid URL"
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _check_status(url: str, status: int) -> None:
    if status >= 500 or status in (408, 429):  # server trouble, request timeout, rate limit
        raise RetryableToolError(f"{url} answered HTTP {status}")  # the Orchestrator retries it
    if status >= 400:
        raise ToolError(f"{url} answered HTTP {status}")


# -- the body: one content coding, decoded in bounded steps, capped while decoding -------------------


def _coding(url: str, response: httpx.Response) -> str | None:
    codings = [
        coding.strip().lower()
        for header in response.headers.get_list("content-encoding")
        for coding in header.split(",")
    ]
    codings = [c for c in codings if c and c != "identity"]
    if len(codings) > 1:
        raise ToolError(
            f"{url} sent a body with {len(codings)} content codings ({', '.join(codings)}); "
            "at most one is accepted"
        )
    if codings and codings[0] not in _WBITS:
        raise ToolError(f"{url} sent a body in content coding {codings[0]!r}, which cannot be decoded")
    return codings[0] if codings else None


class _Inflater:
    """zlib in steps of at most CHUNK output bytes, so no input can make one step large."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._z = zlib.decompressobj(_WBITS[coding])
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        while not self._z.eof:
            try:
                out = self._z.decompress(data, CHUNK)
            except zlib.error as exc:
                if self.coding == "deflate" and not self._started:  # raw deflate, as some servers send
                    self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._started = True
                    continue
                raise ToolError(f"the {self.coding} body cannot be decoded: {exc}") from None
            self._started = True
            if out:
                yield out
            data = self._z.unconsumed_tail
            if not data and len(out) < CHUNK:
                return


async def _read_capped(response: httpx.Response, cap: int, coding: str | None) -> tuple[bytes, bool]:
    """At most ``cap`` decoded bytes, and whether there was more. Compressed input that yields little
    is bounded too: reading stops past ``cap`` plus a margin of raw bytes."""
    inflater = _Inflater(coding) if coding else None
    raw_cap = cap + cap // 64 + CHUNK
    body = bytearray()
    raw = 0
    async for data in response.aiter_raw():
        raw += len(data)
        pieces: Iterable[bytes] = inflater.feed(data) if inflater else (data,)
        for piece in pieces:
            room = cap - len(body)
            if len(piece) > room:
                body += piece[:room]
                return bytes(body), True
            body += piece
        if raw > raw_cap:
            return bytes(body), True
        await asyncio.sleep(0)  # let other requests run between chunks, however fast they arrive
    return bytes(body), False


# -- the client: one per event loop, dialling only what the guard checked ------------------------------

_PIN: ContextVar[netguard.Target | None] = ContextVar("planwright_http_fetch_pin", default=None)


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to the addresses of the current task's checked target, whatever the URL's host
    resolves to now; an endpoint that was not checked is not dialled at all."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        pin = _PIN.get()
        if pin is None or (host, port) != (pin.endpoint.host, pin.endpoint.port):
            raise httpcore.ConnectError(f"{host}:{port} was not checked by the network guard")
        failed: Exception | None = None
        for ip in pin.addresses:
            try:
                return await self._inner.connect_tcp(
                    str(ip), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failed = exc
        assert failed is not None  # a target has at least one address
        raise failed

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("http_fetch does not use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _PinnedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(verify=context, trust_env=False)
        # No keep-alive: every request dials (so through the pin), and no socket outlives a fetch.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context, max_keepalive_connections=0, network_backend=_PinnedBackend()
        )


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


def _client() -> httpx.AsyncClient:
    """One client per event loop (a client's pool belongs to the loop that made it). No proxies or
    .netrc from the environment: a proxy would resolve the host again, unchecked."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = httpx.AsyncClient(
            transport=_PinnedTransport(_tls()),
            follow_redirects=False,
            timeout=httpx.Timeout(15.0),
            trust_env=False,
        )
        _clients[loop] = client
    return client


def prepare() -> None:
    """Build what the first fetch would need, from a thread (tools_builtin loads this module in one):
    the TLS context, whose CA bundle takes ~30 ms to load."""
    _tls()


_TLS: list[ssl.SSLContext] = []
_TLS_LOCK = threading.Lock()


def _tls() -> ssl.SSLContext:
    """One TLS context for every fetch: building one (loading the CA bundle) costs ~30 ms. Built once
    even when two threads ask at the same time."""
    with _TLS_LOCK:
        if not _TLS:
            import certifi  # httpx's own CA bundle

            _TLS.append(ssl.create_default_context(cafile=certifi.where()))
        return _TLS[0]
