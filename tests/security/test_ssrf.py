"""Finding 2 of issue 12 (SSRF), replayed: ``Fetch http://127.0.0.1:<port>/healthz then summarize it.``
and every other way to reach an internal address, sent through ``POST /jobs`` to a real
``planwright up``; redirects, user info, ports, DNS rebinding and the policy's opt-in.

The attack succeeded before the network guard: the API's own health ("checked_at") came back as the
task's output. Now each fetch fails with the reason, and that body appears nowhere.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
import pytest
import yaml

from planwright.core.errors import RetryableToolError, ToolError
from planwright.core.netguard import NetPolicy, parse_networks
from planwright.core.policy import PolicyEngine
from planwright.core.tests.test_tools_builtin import Recorder
from planwright.core.tools_builtin import default_registry
from planwright.services.api.tests.support import loopback_policy
from tests.e2e.support import planwright_up

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

HEALTH_MARK = "checked_at"  # in every /healthz body, and nowhere in a job that never read one
WAIT_S = 120.0


# -- a real planwright up, attacked through POST /jobs ------------------------------------------------


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``planwright up`` as shipped: gate off, config/policy.yaml without any opt-in."""
    data = tmp_path_factory.mktemp("ssrf-strict")
    with planwright_up(data, PLANWRIGHT_UI_DIR=str(data / "no-ui")) as base:
        yield base


def run_job(base: str, goal: str) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """Submit ``goal`` and wait for its job to end: (job, tasks, the job's whole event stream)."""
    resp = httpx.post(f"{base}/jobs", json={"goal": goal})
    assert resp.status_code == 201, resp.text
    job_id = resp.json()["id"]
    deadline = time.monotonic() + WAIT_S
    while (job := httpx.get(f"{base}/jobs/{job_id}").json())["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']} after {WAIT_S:.0f}s"
        time.sleep(0.05)
    tasks = httpx.get(f"{base}/jobs/{job_id}/tasks").json()
    events = httpx.get(f"{base}/jobs/{job_id}/events", timeout=WAIT_S).text
    return job, tasks, events


def api_port(base: str) -> int:
    port = urlsplit(base).port
    assert port is not None
    return port


# Each vector reaches this machine's API (or a cloud metadata service, or a private network) when
# nothing stops it; {port} is the API's.
VECTORS = [
    ("http://127.0.0.1:{port}/healthz", "127.0.0.1 is a loopback address"),
    ("http://localhost:{port}/healthz", "localhost resolves to 127.0.0.1 (a loopback address)"),
    (
        "http://[::ffff:127.0.0.1]:{port}/healthz",
        "::ffff:127.0.0.1 is an IPv4-mapped IPv6 address (of 127.0.0.1)",
    ),
    ("http://2130706433:{port}/healthz", "2130706433 is 127.0.0.1, a loopback address"),
    ("http://0x7f000001:{port}/healthz", "0x7f000001 is 127.0.0.1, a loopback address"),
    ("http://0:{port}/healthz", "0 is 0.0.0.0, an unspecified address"),
    ("http://0.0.0.0:{port}/healthz", "0.0.0.0 is an unspecified address"),
    ("http://0177.0.0.1:{port}/healthz", "0177.0.0.1 is 127.0.0.1, a loopback address"),
    ("http://127.1:{port}/healthz", "127.1 is 127.0.0.1, a loopback address"),
    ("http://[::1]:{port}/healthz", "::1 is a loopback address"),
    ("http://[::7f00:1]:{port}/healthz", "::7f00:1 is an IPv4-compatible IPv6 address (of 127.0.0.1)"),
    (
        "http://[64:ff9b::7f00:1]:{port}/healthz",
        "64:ff9b::7f00:1 is a NAT64 address of 127.0.0.1, a loopback",
    ),
    ("http://[2002:7f00:1::1]:{port}/healthz", "2002:7f00:1::1 is a 6to4 address of 127.0.0.1, a loopback"),
    (
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]:{port}/healthz",
        "2001:0:4136:e378:8000:63bf:80ff:fffe is a Teredo address of 127.0.0.1, a loopback address",
    ),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "fd00:ec2::254 is a unique-local address"),
    (
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
        "64:ff9b::a9fe:a9fe is a NAT64 address of 169.254.169.254, a link-local",
    ),
    ("http://10.0.0.1/", "10.0.0.1 is a private address"),
    ("http://192.168.1.1/", "192.168.1.1 is a private address"),
    ("http://100.64.0.1/", "100.64.0.1 is a shared address (carrier-grade NAT)"),
    ("http://[2002:a00:1::1]/", "2002:a00:1::1 is a 6to4 address of 10.0.0.1, a private address"),
]


@pytest.mark.parametrize(("url", "reason"), VECTORS, ids=[v[0].split("/")[2] for v in VECTORS])
def test_every_internal_address_form_is_refused_with_the_reason(strict: str, url: str, reason: str) -> None:
    url = url.format(port=api_port(strict))
    job, tasks, events = run_job(strict, f"Fetch {url} then summarize it.")
    assert job["status"] == "failed"
    fetch = tasks[0]
    assert (fetch["tool"], fetch["status"], fetch["attempt"]) == ("http_fetch", "failed", 1)  # final
    assert fetch["error"].startswith(f"refused to fetch {url}: {reason}"), fetch["error"]
    assert fetch["output"] is None
    assert HEALTH_MARK not in events
    assert HEALTH_MARK not in str(tasks)


def test_a_name_that_resolves_inside_is_refused_after_resolving_it(strict: str) -> None:
    """This machine's own host name (from /etc/hosts or DNS) leads back to it: decided by the answer."""
    name = socket.gethostname().lower()
    found = {ip_address(i[4][0]) for i in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)}
    if all(ip.is_global for ip in found):
        pytest.skip(f"{name} resolves to public addresses only: {found}")
    url = f"http://{name}/healthz"  # port 80: a name on another port is refused for its port first
    _, tasks, events = run_job(strict, f"Fetch {url} then summarize it.")
    assert tasks[0]["error"].startswith(f"refused to fetch {url}: {name} resolves to "), tasks[0]["error"]
    assert HEALTH_MARK not in events


def test_ports_other_than_80_and_443_are_refused(strict: str) -> None:
    _, tasks, _ = run_job(strict, "Fetch http://example.com:8080/ then summarize it.")
    assert tasks[0]["error"] == (
        "refused to fetch http://example.com:8080/: "
        "port 8080 is not allowed (only 80 and 443, and allowed_ports)"
    )


def test_a_url_with_user_info_is_refused_before_anything_runs(strict: str) -> None:
    url = f"http://admin:s3cret-pw@127.0.0.1:{api_port(strict)}/healthz"
    job, tasks, events = run_job(strict, f"Fetch {url} then summarize it.")
    assert job["status"] == "failed"
    assert "the URL has user info" in job["error"], job["error"]
    assert tasks == []  # the plan was refused: no task, so nothing ran and no args were stored
    assert "s3cret-pw" not in job["error"]
    assert HEALTH_MARK not in events


def test_policy_evaluate_gives_the_answer_the_fetch_would(strict: str) -> None:
    goal = "Fetch http://169.254.169.254/latest/meta-data/ then summarize it."
    body = httpx.post(f"{strict}/policy/evaluate", json={"goal": goal}).json()
    assert body["allowed"] is False
    fetch = body["tasks"][0]
    assert (fetch["tool"], fetch["decision"], fetch["reason"], fetch["rule"]) == (
        "http_fetch",
        "block",
        "169.254.169.254 is a link-local address",
        "environments.dev.tools.http_fetch.allow_private_networks",
    )
    # A name is resolved at evaluate time too, as the fetch would resolve it.
    name = socket.gethostname().lower()
    plan = {"tasks": [{"key": "f", "title": "F", "tool": "http_fetch", "args": {"url": f"http://{name}/"}}]}
    by_name = httpx.post(f"{strict}/policy/evaluate", json={"plan": plan}).json()["tasks"][0]
    if by_name["decision"] == "allow":
        pytest.skip(f"{name} does not resolve to an internal address here")
    assert by_name["reason"].startswith(f"{name} resolves to "), by_name
    public = {
        "tasks": [{"key": "f", "title": "F", "tool": "http_fetch", "args": {"url": "https://example.com/"}}]
    }
    assert httpx.post(f"{strict}/policy/evaluate", json={"plan": public}).json()["allowed"] is True


# -- the opt-in, and redirects, against a real planwright up ------------------------------------------


class Site:
    """A small HTTP server on ``host`` with fixed routes; ``hits`` counts requests per path."""

    def __init__(
        self, host: str, routes: dict[str, Callable[[], tuple[int, dict[str, str], bytes]]], port: int = 0
    ):
        self.hits: dict[str, int] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.hits[self.path] = site.hits.get(self.path, 0) + 1
                status, headers, body = routes[self.path]() if self.path in routes else (404, {}, b"")
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def page(text: str) -> Callable[[], tuple[int, dict[str, str], bytes]]:
    return lambda: (200, {"Content-Type": "text/plain"}, text.encode())


def redirect(to: Callable[[], str]) -> Callable[[], tuple[int, dict[str, str], bytes]]:
    return lambda: (302, {"Location": to()}, b"")


@pytest.fixture(scope="module")
def opted_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Site]]:
    """``planwright up`` whose policy lets http_fetch reach 127.0.0.2 (only) on the site's port, and
    that site, whose /to-api redirects to the API's own /healthz on 127.0.0.1."""
    data = tmp_path_factory.mktemp("ssrf-opt-in")
    target: dict[str, str] = {}
    site = Site(
        "127.0.0.2",
        {"/page": page("Queues hold work. Workers take tasks."), "/to-api": redirect(lambda: target["url"])},
    )
    policy = data / "policy.yaml"
    loopback_policy(policy, site.port)
    policy.write_text(policy.read_text().replace("127.0.0.0/8", "127.0.0.2/32"))
    try:
        with planwright_up(
            data, PLANWRIGHT_UI_DIR=str(data / "no-ui"), POLICY_CONFIG_PATH=str(policy)
        ) as base:
            target["url"] = f"http://127.0.0.1:{api_port(base)}/healthz"
            yield base, site
    finally:
        site.close()


def test_the_opt_in_allows_the_listed_network_and_no_other(opted_in: tuple[str, Site]) -> None:
    base, site = opted_in
    job, tasks, _ = run_job(base, f"Fetch {site.url}/page then summarize it.")
    assert job["status"] == "succeeded", job["error"]
    assert tasks[0]["output"]["text"] == "Queues hold work. Workers take tasks."
    other = f"http://127.0.0.1:{site.port}/page"  # loopback, but not in 127.0.0.2/32
    _, tasks, _ = run_job(base, f"Fetch {other} then summarize it.")
    assert tasks[0]["error"] == f"refused to fetch {other}: 127.0.0.1 is a loopback address"
    elsewhere = f"http://127.0.0.2:{api_port(base)}/healthz"  # the listed network, another port
    _, tasks, events = run_job(base, f"Fetch {elsewhere} then summarize it.")
    assert f"port {api_port(base)} is not allowed" in tasks[0]["error"]
    assert HEALTH_MARK not in events


def test_a_redirect_to_the_api_itself_is_refused_at_the_second_hop(opted_in: tuple[str, Site]) -> None:
    base, site = opted_in
    url = f"{site.url}/to-api"
    job, tasks, events = run_job(base, f"Fetch {url} then summarize it.")
    assert job["status"] == "failed"
    healthz = f"http://127.0.0.1:{api_port(base)}/healthz"
    assert tasks[0]["error"] == (
        f"refused to follow the redirect from {url} to {healthz}: 127.0.0.1 is a loopback address"
    )
    assert site.hits["/to-api"] >= 1  # the first hop was fetched: the second was refused
    assert HEALTH_MARK not in events
    assert HEALTH_MARK not in str(tasks)


# -- in process: rebinding, redirect rules, the staging domains on every hop ---------------------------


def scripted(*answers: str) -> Any:
    """A resolver that answers ``answers[0]`` first, then ``answers[1]``, ... (the last one again)."""
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[Any]:
        calls.append(host)
        return [ip_address(answers[min(len(calls), len(answers)) - 1])]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


@pytest.fixture
def twin_sites() -> Iterator[tuple[Site, Site]]:
    """The same port on 127.0.0.2 (a "good" page) and on 127.0.0.1 (a "secret" one)."""
    for _ in range(20):
        good = Site("127.0.0.2", {"/": page("good page")})
        try:
            secret = Site("127.0.0.1", {"/": page("secret " + HEALTH_MARK)}, port=good.port)
        except OSError:  # that port is taken on 127.0.0.1: try another
            good.close()
            continue
        yield good, secret
        good.close()
        secret.close()
        return
    pytest.fail("found no port free on both 127.0.0.2 and 127.0.0.1")


async def test_dns_rebinding_cannot_move_the_connection(
    tmp_path: Path, twin_sites: tuple[Site, Site]
) -> None:
    """The resolver answers 127.0.0.2 (allowed) first and 127.0.0.1 after: the fetch connects to the
    address it checked. ``rebind.test`` exists nowhere, so only the pinned address could be dialled."""
    good, secret = twin_sites
    resolver = scripted("127.0.0.2", "127.0.0.1")
    policy = NetPolicy(parse_networks(["127.0.0.2/32"]), frozenset({good.port}))
    registry = default_registry(resolver=resolver)
    out = await registry.run(
        Recorder(tmp_path).call({"url": f"http://rebind.test:{good.port}/"}, net_policy=policy), "http_fetch"
    )
    assert out["text"] == "good page"
    assert resolver.calls == ["rebind.test"]  # checked once, and that answer was used
    assert (good.hits, secret.hits) == ({"/": 1}, {})


async def test_rebinding_to_loopback_after_a_public_answer_dials_the_public_address(
    tmp_path: Path, twin_sites: tuple[Site, Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The public first answer is what is dialled (it is unreachable here, so the fetch fails and is
    retried later); the loopback second answer, where a server listens, is never used."""
    _, secret = twin_sites
    dialled: list[str] = []

    async def spy(self: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        dialled.append(host)
        raise httpcore.ConnectError("no route (test)")

    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", spy)
    resolver = scripted("93.184.215.14", "127.0.0.1")
    policy = NetPolicy(extra_ports=frozenset({secret.port}))
    with pytest.raises(RetryableToolError, match="ConnectError"):
        await default_registry(resolver=resolver).run(
            Recorder(tmp_path).call({"url": f"http://rebind.test:{secret.port}/"}, net_policy=policy),
            "http_fetch",
        )
    assert dialled == ["93.184.215.14"]
    assert resolver.calls == ["rebind.test"]
    assert secret.hits == {}


async def test_redirect_hops_are_each_checked(tmp_path: Path) -> None:
    hops: dict[str, Callable[[], tuple[int, dict[str, str], bytes]]] = {"/page": page("fine")}
    site = Site("127.0.0.2", hops)
    secret = Site("127.0.0.1", {"/": page(HEALTH_MARK)})
    base = site.url
    hops.update(
        {
            "/to-loopback": redirect(lambda: f"{secret.url}/"),
            "/to-file": redirect(lambda: "file:///etc/passwd"),
            "/to-userinfo": redirect(lambda: f"http://admin:hunter2@127.0.0.2:{site.port}/page"),
            "/to-port": redirect(lambda: "http://127.0.0.2:8081/page"),
            "/to-relative": redirect(lambda: "/page"),
            **{f"/loop{i}": redirect(lambda i=i: f"/loop{i + 1}") for i in range(10)},
        }
    )
    policy = NetPolicy(parse_networks(["127.0.0.2/32"]), frozenset({site.port}))
    registry = default_registry()
    rec = Recorder(tmp_path)
    try:
        ok = await registry.run(rec.call({"url": f"{base}/to-relative"}, net_policy=policy), "http_fetch")
        assert (ok["url"], ok["text"]) == (f"{base}/page", "fine")
        refusals = {
            "/to-loopback": f"to {secret.url}/: 127.0.0.1 is a loopback address",
            "/to-file": "to file:/etc/passwd: only http and https URLs can be fetched, got scheme file",
            "/to-userinfo": f"to http://127.0.0.2:{site.port}/page: the URL has user info",
            "/to-port": "to http://127.0.0.2:8081/page: port 8081 is not allowed",
        }
        for path, reason in refusals.items():
            with pytest.raises(ToolError) as refused:
                await registry.run(rec.call({"url": f"{base}{path}"}, net_policy=policy), "http_fetch")
            assert not isinstance(refused.value, RetryableToolError)
            assert str(refused.value).startswith(f"refused to follow the redirect from {base}{path} {reason}")
            assert "hunter2" not in str(refused.value)
        with pytest.raises(ToolError, match=r"/loop5 redirected more than 5 times"):
            await registry.run(rec.call({"url": f"{base}/loop0"}, net_policy=policy), "http_fetch")
        assert "/loop6" not in site.hits  # five redirects followed, the sixth not
        assert secret.hits == {}
    finally:
        site.close()
        secret.close()


async def test_staging_domains_apply_to_every_hop(tmp_path: Path) -> None:
    """With the gate on, ``allowed_domains`` is checked on redirects too: a hop to an allowed address
    whose host is not an allowed domain is refused."""
    hops: dict[str, Callable[[], tuple[int, dict[str, str], bytes]]] = {}
    site = Site("127.0.0.2", hops)
    other = Site("127.0.0.3", {"/": page(HEALTH_MARK)}, port=site.port)
    hops["/away"] = redirect(lambda: f"{other.url}/")
    policy_file = loopback_policy(tmp_path / "policy.yaml", site.port)
    raw = yaml.safe_load(policy_file.read_text())
    raw["environments"]["staging"]["tools"]["http_fetch"]["allowed_domains"].append("127.0.0.2")
    policy_file.write_text(yaml.safe_dump(raw))
    engine = PolicyEngine.load(policy_file)
    assert engine.decide("staging", "http_fetch", {"url": f"{site.url}/away"}).allowed
    policy = engine.net_policy("staging", "http_fetch", with_domains=True)
    try:
        with pytest.raises(ToolError, match=r"'127\.0\.0\.3' is not an allowed domain"):
            await default_registry().run(
                Recorder(tmp_path).call({"url": f"{site.url}/away"}, net_policy=policy), "http_fetch"
            )
        assert other.hits == {}
    finally:
        site.close()
        other.close()
