"""The network guard: which addresses, ports and URLs http_fetch may reach (pure, plus a scripted DNS)."""

from __future__ import annotations

import asyncio
import socket
from ipaddress import ip_address

import pytest

from planwright.core import netguard
from planwright.core.errors import ConfigError
from planwright.core.netguard import NetPolicy, Refused, Unresolved, check_fetch, check_url
from planwright.core.policy import PolicyEngine, PolicyFile, PolicyStore


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.255.0.9", "a loopback address"),
        ("0.0.0.0", "an unspecified address"),
        ("0.1.2.3", "a 'this network' address"),
        ("10.0.0.1", "a private address"),
        ("172.16.5.4", "a private address"),
        ("192.168.1.1", "a private address"),
        ("100.64.0.1", "a shared address (carrier-grade NAT)"),
        ("169.254.169.254", "a link-local address"),
        ("192.0.2.1", "a documentation address"),
        ("198.51.100.7", "a documentation address"),
        ("203.0.113.9", "a documentation address"),
        ("198.18.0.1", "a benchmarking address"),
        ("224.0.0.1", "a multicast address"),
        ("255.255.255.255", "a broadcast address"),
        ("240.0.0.1", "a reserved address"),
        ("192.0.0.8", "a reserved address (IETF protocol assignments)"),
        ("::", "an unspecified address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "an IPv4-mapped IPv6 address (of 127.0.0.1)"),
        ("::ffff:8.8.8.8", "an IPv4-mapped IPv6 address (of 8.8.8.8)"),  # never on the wire: refused
        ("::7f00:1", "an IPv4-compatible IPv6 address (of 127.0.0.1)"),
        ("64:ff9b::7f00:1", "a NAT64 address of 127.0.0.1, a loopback address"),
        ("64:ff9b::a9fe:a9fe", "a NAT64 address of 169.254.169.254, a link-local address"),
        ("64:ff9b:1::a00:1", "a local-use NAT64 address"),
        ("2002:a00:1::1", "a 6to4 address of 10.0.0.1, a private address"),
        ("2002:7f00:1::", "a 6to4 address of 127.0.0.1, a loopback address"),
        # Teredo: the client address is stored inverted (ffff:fffe -> 0.0.0.1, f5ff:fffe -> 10.0.0.1).
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "a Teredo address of 10.0.0.1, a private address"),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "a Teredo address of 127.0.0.1, a loopback address"),
        ("fd00:ec2::254", "a unique-local address"),
        ("fc00::1", "a unique-local address"),
        ("fe80::1", "a link-local address"),
        ("fec0::1", "a site-local address"),
        ("ff02::1", "a multicast address"),
        ("2001:db8::1", "a documentation address"),
        ("3fff::1", "a documentation address"),
        ("2001:2::1", "a benchmarking address"),
        ("100::1", "a discard-only address"),
        ("5f00::1", "not a globally routable address"),  # reserved (SRv6 SIDs)
    ],
)
def test_every_non_global_address_is_refused_with_its_class(address, kind):
    assert netguard.address_class(ip_address(address)) == kind


@pytest.mark.parametrize(
    "address",
    ["93.184.215.14", "8.8.8.8", "1.1.1.1", "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::1"],
)
def test_global_addresses_are_allowed(address):
    assert netguard.address_class(ip_address(address)) is None


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("[::1]", "::1"),
        ("example.com", None),
        ("1e100.net", None),
        ("127.0.0.1 x", None),
    ],
)
def test_literal_addresses_are_read_as_the_resolver_reads_them(host, address):
    found = netguard.literal_address(host)
    assert found == (ip_address(address) if address else None)
    if address and not host.startswith("["):  # what the OS itself makes of the name
        assert socket.getaddrinfo(host, 80, type=socket.SOCK_STREAM)[0][4][0] == address


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/healthz", "127.0.0.1 is a loopback address"),
        ("http://2130706433/", "2130706433 is 127.0.0.1, a loopback address"),
        ("http://0x7f000001/", "0x7f000001 is 127.0.0.1, a loopback address"),
        ("http://0/", "0 is 0.0.0.0, an unspecified address"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1 is an IPv4-mapped IPv6 address (of 127.0.0.1)"),
        ("http://localhost/", "localhost resolves to 127.0.0.1 (a loopback address) and ::1 (a loopback"),
        ("http://api.localhost/", "api.localhost resolves to 127.0.0.1 (a loopback address)"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://example.com:8080/", "port 8080 is not allowed (only 80 and 443, and allowed_ports)"),
        ("http://127.0.0.1:8000/", "127.0.0.1 is a loopback address"),  # the address is the reason
        ("ftp://example.com/", "only http and https URLs can be fetched, got scheme ftp"),
        ("http://user:hunter2@example.com/", "the URL has user info (a name or password before '@')"),
        ("http://[::1/", "the URL is not valid"),
        ("http:///path", "the URL has no host name"),
        ("http://example.com:99999/", "the URL's port is not a number from 1 to 65535"),
    ],
)
def test_check_url_refuses_without_dns(url, reason):
    with pytest.raises(Refused) as refused:
        check_url(url)
    assert refused.value.reason.startswith(reason)
    assert "hunter2" not in refused.value.reason


def test_check_url_passes_public_names_and_normalises_the_host():
    assert check_url("https://Example.COM/x") == netguard.Endpoint("https", "example.com", 443)
    assert check_url("http://bücher.example/").host == "xn--bcher-kva.example"


def test_the_policy_opts_in_networks_and_ports_and_nothing_else():
    policy = NetPolicy(netguard.parse_networks(["10.1.0.0/16"]), frozenset({8080}))
    assert check_url("http://10.1.2.3:8080/", policy).port == 8080
    with pytest.raises(Refused, match=r"^10\.2\.0\.1 is a private address$") as other:
        check_url("http://10.2.0.1:8080/", policy)
    assert other.value.setting == "allow_private_networks"
    with pytest.raises(Refused, match="port 9090 is not allowed") as port:
        check_url("http://10.1.2.3:9090/", policy)
    assert port.value.setting == "allowed_ports"
    with pytest.raises(Refused, match=r"'evil\.test' is not an allowed domain"):
        check_url("http://evil.test/", NetPolicy(allowed_domains=("example.com",)))


class Scripted:
    """A resolver that gives each answer in turn (the last one again after that), counting its calls."""

    def __init__(self, *answers):
        self.answers = answers
        self.calls = []

    async def __call__(self, host, port):
        self.calls.append((host, port))
        return [ip_address(a) for a in self.answers[min(len(self.calls), len(self.answers)) - 1]]


async def test_check_fetch_keeps_only_allowed_addresses_in_the_resolvers_order():
    resolver = Scripted(["10.0.0.1", "93.184.215.14", "::1", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
    target = await check_fetch("https://example.com/", resolver=resolver)
    assert target.addresses == (
        ip_address("93.184.215.14"),
        ip_address("2606:2800:21f:cb07:6820:80da:af6b:8b2c"),
    )
    assert resolver.calls == [("example.com", 443)]


async def test_check_fetch_refuses_a_name_that_leads_only_inside_and_says_where():
    with pytest.raises(Refused) as refused:
        await check_fetch("http://metadata.test/", resolver=Scripted(["169.254.169.254", "fd00:ec2::254"]))
    assert refused.value.reason == (
        "metadata.test resolves to 169.254.169.254 (a link-local address) and fd00:ec2::254 (a unique-local "
        "address)"
    )


async def test_check_fetch_with_an_opt_in_allows_the_listed_network_only():
    policy = NetPolicy(netguard.parse_networks(["10.1.0.0/16"]))
    ok = await check_fetch("http://intranet.test/", policy, resolver=Scripted(["10.1.0.5"]))
    assert ok.addresses == (ip_address("10.1.0.5"),)
    with pytest.raises(Refused, match=r"resolves to 10\.9\.0\.5 \(a private address\)"):
        await check_fetch("http://intranet.test/", policy, resolver=Scripted(["10.9.0.5"]))


async def test_a_name_without_an_address_is_unresolved_not_refused():
    async def fails(host, port):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async def hangs(host, port):
        await asyncio.sleep(3600)

    with pytest.raises(Unresolved, match=r"cannot resolve nowhere\.test: Name or service not known"):
        await check_fetch("http://nowhere.test/", resolver=fails)
    with pytest.raises(Unresolved, match=r"resolving slow.test took longer than 0\.05s"):
        await check_fetch("http://slow.test/", resolver=hangs, timeout_s=0.05)
    with pytest.raises(Unresolved, match="no address"):
        await check_fetch("http://empty.test/", resolver=Scripted([]))


async def test_the_system_resolver_answers_like_getaddrinfo():
    assert ip_address("127.0.0.1") in await netguard.system_resolver("localhost", 80)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            ["10.1.0.1/16"],
            "'10.1.0.1/16' is not a network in CIDR form such as 10.1.0.0/16: 10.1.0.1/16 has host",
        ),
        (["0.0.0.0/0"], "'0.0.0.0/0' would allow every address"),
        (["::/0"], "'::/0' would allow every address"),
        (["intranet"], "'intranet' is not a network in CIDR form"),
        ([5], "write each network as a string in CIDR form"),
        ("10.0.0.0/8", "Input should be a valid list"),
    ],
)
def test_the_policy_file_validates_the_opt_in(value, message):
    raw = {"environments": {"dev": {"tools": {"http_fetch": {"allow_private_networks": value}}}}}
    with pytest.raises(
        ValueError, match=r"environments\.dev\.tools\.http_fetch\.allow_private_networks"
    ) as bad:
        PolicyFile.model_validate(raw)
    assert message in str(bad.value)


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_the_policy_file_validates_ports(port):
    raw = {"environments": {"dev": {"tools": {"http_fetch": {"allowed_ports": [port]}}}}}
    with pytest.raises(ValueError, match=f"{port} is not a port"):
        PolicyFile.model_validate(raw)


def test_the_policy_decides_internal_urls_with_the_reason_and_the_key_that_could_allow_them():
    engine = PolicyEngine(
        PolicyFile.model_validate(
            {
                "environments": {
                    "dev": {"allowed_tools": ["*"]},
                    "lab": {
                        "allowed_tools": ["*"],
                        "tools": {
                            "http_fetch": {"allow_private_networks": ["10.1.0.0/16"], "allowed_ports": [8080]}
                        },
                    },
                }
            }
        )
    )
    refused = engine.decide("dev", "http_fetch", {"url": "http://169.254.169.254/"})
    assert (refused.allowed, refused.reason, refused.rule) == (
        False,
        "169.254.169.254 is a link-local address",
        "environments.dev.tools.http_fetch.allow_private_networks",
    )
    port = engine.decide("dev", "http_fetch", {"url": "https://example.com:8443/"})
    assert port.rule == "environments.dev.tools.http_fetch.allowed_ports"
    assert engine.decide("lab", "http_fetch", {"url": "http://10.1.0.9:8080/"}).allowed
    assert not engine.decide("lab", "http_fetch", {"url": "http://10.2.0.9:8080/"}).allowed
    assert engine.decide("dev", "http_fetch", {"url": "https://example.com/"}).allowed


def test_the_workers_store_is_optional_but_an_invalid_file_still_stops_the_process(tmp_path):
    assert PolicyStore.if_present(tmp_path / "missing.yaml") is None
    bad = tmp_path / "bad.yaml"
    bad.write_text("environments:\n  dev:\n    tools:\n      http_fetch:\n        allowed_ports: [0]\n")
    with pytest.raises(ConfigError, match=r"allowed_ports: Value error, 0 is not a port"):
        PolicyStore.if_present(bad)
