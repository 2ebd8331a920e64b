"""Where ``http_fetch`` may connect: only globally routable addresses on ports 80/443, unless the policy
opts in (``tools.http_fetch.allow_private_networks`` / ``allowed_ports``, docs/tools.md).

``check_url`` is the static part (scheme, user info, port, domains, IP literals in every form that
``inet_aton`` accepts, ``localhost``); ``check_fetch`` adds the DNS answer and returns the addresses
the caller must connect to, and to nothing else (``http_fetch`` pins them, so a second DNS answer
cannot differ). The Policy Gate, ``POST /policy/evaluate`` and the tool share these two functions.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from urllib.parse import urlsplit

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]

DEFAULT_PORTS = frozenset({80, 443})
RESOLVE_TIMEOUT_S = 5.0

# Non-global ranges, most specific first, each with what a refusal calls it. Python's own
# ``is_global`` is the last word (below), but it calls IPv4-mapped, NAT64 and 6to4 forms global.
_V4: list[tuple[IPv4Network, str]] = [
    (IPv4Network("0.0.0.0/32"), "an unspecified address"),
    (IPv4Network("0.0.0.0/8"), "a 'this network' address"),
    (IPv4Network("127.0.0.0/8"), "a loopback address"),
    (IPv4Network("10.0.0.0/8"), "a private address"),
    (IPv4Network("172.16.0.0/12"), "a private address"),
    (IPv4Network("192.168.0.0/16"), "a private address"),
    (IPv4Network("100.64.0.0/10"), "a shared address (carrier-grade NAT)"),
    (IPv4Network("169.254.0.0/16"), "a link-local address"),
    (IPv4Network("192.0.0.0/24"), "a reserved address (IETF protocol assignments)"),
    (IPv4Network("192.0.2.0/24"), "a documentation address"),
    (IPv4Network("198.51.100.0/24"), "a documentation address"),
    (IPv4Network("203.0.113.0/24"), "a documentation address"),
    (IPv4Network("198.18.0.0/15"), "a benchmarking address"),
    (IPv4Network("224.0.0.0/4"), "a multicast address"),
    (IPv4Network("255.255.255.255/32"), "a broadcast address"),
    (IPv4Network("240.0.0.0/4"), "a reserved address"),
]
_V6: list[tuple[IPv6Network, str]] = [
    (IPv6Network("::/128"), "an unspecified address"),
    (IPv6Network("::1/128"), "a loopback address"),
    (IPv6Network("64:ff9b:1::/48"), "a local-use NAT64 address"),
    (IPv6Network("fc00::/7"), "a unique-local address"),
    (IPv6Network("fe80::/10"), "a link-local address"),
    (IPv6Network("fec0::/10"), "a site-local address"),
    (IPv6Network("ff00::/8"), "a multicast address"),
    (IPv6Network("2001:db8::/32"), "a documentation address"),
    (IPv6Network("3fff::/20"), "a documentation address"),
    (IPv6Network("2001:2::/48"), "a benchmarking address"),
    (IPv6Network("100::/64"), "a discard-only address"),
]
_MAPPED = IPv6Network("::ffff:0:0/96")
_COMPATIBLE = IPv6Network("::/96")
_NAT64 = IPv6Network("64:ff9b::/96")
_6TO4 = IPv6Network("2002::/16")
_TEREDO = IPv6Network("2001::/32")
_LOOPBACK_NAMES = (IPv4Address("127.0.0.1"), IPv6Address("::1"))


def address_class(ip: IPAddress) -> str | None:
    """What makes ``ip`` unfit to fetch from ("a loopback address"), or None if it is globally routable."""
    if isinstance(ip, IPv4Address):
        for net4, what in _V4:
            if ip in net4:
                return what
        return None if ip.is_global else "not a globally routable address"
    if ip in _MAPPED:
        return f"an IPv4-mapped IPv6 address (of {ip.ipv4_mapped})"
    for net6, what in _V6:
        if ip in net6:
            return what
    if ip in _COMPATIBLE:
        return f"an IPv4-compatible IPv6 address (of {IPv4Address(int(ip) & 0xFFFFFFFF)})"
    for embedded, form in _embedded_v4(ip):
        inner = address_class(embedded)
        if inner is not None:
            return f"{form} of {embedded}, {inner}"
    if ip in _NAT64 or ip in _6TO4:
        return None  # to a global IPv4 address: Python calls NAT64 "reserved", but it is routed
    return None if ip.is_global and not ip.is_reserved else "not a globally routable address"


def _embedded_v4(ip: IPv6Address) -> list[tuple[IPv4Address, str]]:
    """The IPv4 addresses a translated or tunnelled IPv6 address leads to."""
    if ip in _NAT64:
        return [(IPv4Address(int(ip) & 0xFFFFFFFF), "a NAT64 address")]
    if ip.sixtofour is not None:
        return [(ip.sixtofour, "a 6to4 address")]
    if ip.teredo is not None:
        server, client = ip.teredo
        return [(client, "a Teredo address"), (server, "a Teredo address (server)")]
    return []


@dataclass(frozen=True)
class NetPolicy:
    """The guard's settings for one tool in one mode; the default is the strictest."""

    private_networks: tuple[IPNetwork, ...] = ()  # opted in: fetched even though not global
    extra_ports: frozenset[int] = frozenset()  # besides 80 and 443
    allowed_domains: tuple[str, ...] | None = None  # checked on every hop when the gate is on


STRICT = NetPolicy()


class Refused(Exception):
    """The URL must not be fetched. ``setting`` names the policy key that could allow it, if any."""

    def __init__(self, reason: str, setting: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.setting = setting


class Unresolved(Exception):
    """The host name has no address (yet): not a refusal, the fetch may be tried again."""


@dataclass(frozen=True)
class Endpoint:
    scheme: str
    host: str  # lower case, IDNA-encoded, IPv6 without brackets: what the HTTP client dials
    port: int


@dataclass(frozen=True)
class Target:
    """A checked endpoint and the only addresses it may be reached at, in the resolver's order."""

    endpoint: Endpoint
    addresses: tuple[IPAddress, ...]


def check_address(ip: IPAddress, policy: NetPolicy) -> str | None:
    """Why ``ip`` may not be fetched from (``"a loopback address"``), or None if it may."""
    if any(ip in net for net in policy.private_networks):
        return None
    return address_class(ip)


def literal_address(host: str) -> IPAddress | None:
    """The address an IP-literal host reaches, including the forms ``inet_aton`` and so ``getaddrinfo``
    accept (``2130706433``, ``0x7f000001``, ``0177.0.0.1``, ``127.1``, ``0``); None for a name."""
    try:
        return ip_address(host.strip("[]"))
    except ValueError:
        pass
    if host[:1].isdigit() and all(c in "0123456789abcdefxABCDEFX." for c in host):
        try:
            return IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def host_allowed(host: str, patterns: Sequence[str]) -> bool:
    """Whether ``host`` matches an ``allowed_domains`` entry ("*.example.com" for subdomains)."""
    host = host.lower().rstrip(".")
    for pattern in (p.lower() for p in patterns):
        if host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


def check_url(url: str, policy: NetPolicy = STRICT) -> Endpoint:
    """Everything decidable without DNS; raises ``Refused`` with the reason. Never echoes user info."""
    try:
        parts = urlsplit(url.strip())
        hostname = parts.hostname
    except ValueError:  # e.g. an unclosed "[" in the host
        raise Refused("the URL is not valid") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise Refused(f"only http and https URLs can be fetched, got scheme {scheme or 'none'}")
    if "@" in parts.netloc:
        raise Refused("the URL has user info (a name or password before '@'); it is never sent")
    host = _normal_host(hostname or "")
    if not host:
        raise Refused("the URL has no host name")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise Refused("the URL's port is not a number from 1 to 65535") from None
    if policy.allowed_domains is not None and not host_allowed(host, policy.allowed_domains):
        raise Refused(f"'{host}' is not an allowed domain", "allowed_domains")
    endpoint = Endpoint(scheme, host, port)
    literal = literal_address(host)
    if literal is not None:
        _refuse_unless_allowed(endpoint, [literal], policy, "is")
    elif host.rstrip(".") == "localhost" or host.rstrip(".").endswith(".localhost"):  # RFC 6761
        _refuse_unless_allowed(endpoint, _LOOPBACK_NAMES, policy)
    if port not in DEFAULT_PORTS and port not in policy.extra_ports:
        raise Refused(f"port {port} is not allowed (only 80 and 443, and allowed_ports)", "allowed_ports")
    return endpoint


async def check_fetch(
    url: str,
    policy: NetPolicy = STRICT,
    *,
    resolver: Resolver | None = None,
    timeout_s: float = RESOLVE_TIMEOUT_S,
) -> Target:
    """``check_url``, then the host's addresses: the allowed ones are returned (connect to these
    only); if none is allowed, ``Refused`` names each address and its class. ``Unresolved`` if the
    name has no address within ``timeout_s``."""
    endpoint = check_url(url, policy)
    literal = literal_address(endpoint.host)
    if literal is not None:
        return Target(endpoint, (literal,))
    try:
        async with asyncio.timeout(timeout_s):
            found = await (resolver or system_resolver)(endpoint.host, endpoint.port)
    except TimeoutError:
        raise Unresolved(f"resolving {endpoint.host} took longer than {timeout_s:g}s") from None
    except OSError as exc:
        raise Unresolved(f"cannot resolve {endpoint.host}: {exc.strerror or exc}") from None
    if not found:
        raise Unresolved(f"cannot resolve {endpoint.host}: no address")
    return Target(endpoint, _refuse_unless_allowed(endpoint, found, policy))


def _refuse_unless_allowed(
    endpoint: Endpoint, addresses: Sequence[IPAddress], policy: NetPolicy, verb: str = "resolves to"
) -> tuple[IPAddress, ...]:
    allowed = tuple(ip for ip in addresses if check_address(ip, policy) is None)
    if allowed:
        return allowed
    first = addresses[0]
    if len(addresses) == 1 and literal_address(endpoint.host) == first:
        shown = "" if _is_plain(endpoint.host, first) else f"{first}, "
        reason = f"{endpoint.host} is {shown}{check_address(first, policy)}"
    else:
        found = [f"{ip} ({check_address(ip, policy)})" for ip in dict.fromkeys(addresses)]
        reason = f"{endpoint.host} {verb} " + " and ".join(found)
    raise Refused(reason, "allow_private_networks")


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The addresses ``getaddrinfo`` gives for ``host`` (what the OS would connect to)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ip_address(str(info[4][0])) for info in infos))


def parse_networks(values: Sequence[str]) -> tuple[IPNetwork, ...]:
    """CIDRs for ``allow_private_networks``; ValueError says which entry is wrong and why."""
    networks = []
    for value in values:
        try:
            net = ip_network(value.strip(), strict=True)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a network in CIDR form such as 10.1.0.0/16: {exc}") from None
        if net.prefixlen == 0:
            raise ValueError(f"{value!r} would allow every address; list the private networks you need")
        networks.append(net)
    return tuple(networks)


def _is_plain(host: str, ip: IPAddress) -> bool:
    """Whether ``host`` is ``ip`` written the usual way (so a message need not say it twice)."""
    try:
        return ip_address(host) == ip
    except ValueError:
        return False


def _normal_host(host: str) -> str:
    """The host as httpx sends it to the network layer (lower case, IDNA for non-ASCII names)."""
    host = host.lower()
    if host.isascii():
        return host
    import idna  # httpx's own IDNA codec, so both sides agree

    try:
        return str(idna.encode(host).decode("ascii"))
    except idna.IDNAError:
        raise Refused("the URL's host name is not a valid international domain name") from None
