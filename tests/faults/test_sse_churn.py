"""SSE under reconnect churn with the API stalled: 300 clients reconnect every 2-6 s while the API
process is stopped (SIGSTOP) for a few seconds and then resumed (SIGCONT). /healthz keeps
answering, no work is done for the clients who gave up during the stall, and the streams come back
by themselves while the churn goes on (issue 15: they once fell to none and stayed there for over a
minute, while /healthz timed out)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import resource
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.processes import READY_S

pytestmark = [pytest.mark.distributed, pytest.mark.faults, pytest.mark.timeout(300)]

CLIENTS = 300
JOBS = 10
LIFETIME_S = (2.0, 6.0)  # how long a client keeps a stream, or waits for one, before it reconnects
STALL_S = 8.0
PROBE_EVERY_S = 0.25
PROBE_CEILING_S = 60.0  # one /healthz answer: a ceiling to stop waiting, not an expectation
# The product's requirement is an answer within 1 s. Here the worst /healthz wait measured 0.3-0.45 s
# on an idle 2-core machine and 0.5-0.7 s with both cores kept busy (before the fix, a heavier stall
# of 500 clients for 10 s took 1.5 s idle and 3.9 s busy). What the API has to work through after
# SIGCONT grows with the listen backlog and shrinks with the CPU it gets, which a CI machine running
# other tests does not promise: the bound asserted is a few times the requirement, far below the
# collapse (over 10 s), and the measured figure is printed. What proves the fix under any load is the
# work not done for the clients who left (below).
HEALTHZ_BOUND_S = 5.0
STALE = b"the last health check completed"  # /healthz's 503 while its last check predates the stall


@dataclass
class Churn:
    """Clients that each open the event stream of a job, keep it (or wait for an answer) for 2-6 s,
    then leave and connect again at once, whatever happened: a browser behind a proxy with a short
    timeout, reconnecting."""

    port: int
    job_ids: list[str]
    opened: list[tuple[float, int]] = field(default_factory=list)  # (when, client) per 200
    abandoned: list[float] = field(default_factory=list)  # gave up waiting for the answer
    failed: list[str] = field(default_factory=list)  # anything but a 200 or giving up

    async def client(self, n: int) -> None:
        rng = random.Random(n)
        job = self.job_ids[n % len(self.job_ids)]
        while True:
            with contextlib.suppress(TimeoutError):  # the client's time is up: it leaves
                async with asyncio.timeout(rng.uniform(*LIFETIME_S)):
                    await self._once(n, job, resume=rng.random() < 0.5)
                    await asyncio.Event().wait()

    async def _once(self, n: int, job: str, resume: bool) -> None:
        last_event_id = "Last-Event-ID: 1\r\n" if resume else ""
        request = f"GET /jobs/{job}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n{last_event_id}\r\n"
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError as exc:
            self.failed.append(f"connect: {exc!r}")
            return
        try:
            writer.write(request.encode())
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.CancelledError:
                self.abandoned.append(time.monotonic())
                raise
            if not head.startswith(b"HTTP/1.1 200"):
                self.failed.append(head.split(b"\r\n", 1)[0].decode())
                return
            self.opened.append((time.monotonic(), n))
            while await reader.read(65536):  # the stream, until the client's time is up
                pass
        except (OSError, asyncio.IncompleteReadError) as exc:
            self.failed.append(repr(exc))
        finally:
            writer.close()

    def back(self, since: float) -> set[int]:
        """The clients that opened a stream after ``since``."""
        return {n for t, n in self.opened if t > since}


@dataclass
class Probe:
    """One GET /healthz: when it was sent, and when and how it was answered."""

    sent: float
    answered: float | None = None
    status: int | None = None
    body: bytes = b""


async def _probe(port: int, probe: Probe) -> None:
    """One GET /healthz on a new connection; its answer goes into ``probe``."""
    with contextlib.suppress(TimeoutError, OSError):
        async with asyncio.timeout(PROBE_CEILING_S):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                response = await reader.read(-1)
                probe.answered = time.monotonic()
                probe.status = int(response.split(b" ", 2)[1])
                probe.body = response
            finally:
                writer.close()


async def _until(what: str, done: Callable[[], bool], ceiling_s: float = READY_S) -> float:
    """Wait until ``done()``; the seconds it took. Fails naming ``what`` after ``ceiling_s``."""
    start = time.monotonic()
    while not done():
        assert time.monotonic() - start < ceiling_s, f"waited {ceiling_s:g}s for {what}"
        await asyncio.sleep(0.05)
    return time.monotonic() - start


def _running(probe: Probe, stopped: float, resumed: float) -> float:
    """How long ``probe`` waited for its answer while the API was not stopped."""
    assert probe.answered is not None
    stalled = max(0.0, min(probe.answered, resumed) - max(probe.sent, stopped))
    return probe.answered - probe.sent - stalled


def _sample(metrics: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


@pytest.fixture(autouse=True)
def _descriptors() -> Iterator[None]:
    """Streams, and the connections a stall leaves queued, take more descriptors than a soft limit
    of 1024 holds; the API started by the test inherits this one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 8192 if hard == resource.RLIM_INFINITY else min(8192, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_streams_recover_and_healthz_answers_through_a_stall_under_churn(make_stack):
    stack = make_stack()
    stack.start_api()  # no planner: the jobs stay open, and so do their streams
    churn = Churn(stack.api_port, [stack.submit(f"churn {i}") for i in range(JOBS)])
    probes: list[Probe] = []
    out: set[asyncio.Task[None]] = set()
    done = asyncio.Event()

    async def probing() -> None:
        while not done.is_set():
            probes.append(probe := Probe(time.monotonic()))
            out.add(asyncio.create_task(_probe(stack.api_port, probe)))
            await asyncio.sleep(PROBE_EVERY_S)

    running = [asyncio.create_task(churn.client(n)) for n in range(CLIENTS)]
    prober = asyncio.create_task(probing())
    try:
        await _until(f"{CLIENTS} streams to open", lambda: len(churn.opened) >= CLIENTS)
        api = stack.procs["api"]
        api.send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        try:
            await asyncio.sleep(STALL_S)
        finally:
            api.send_signal(signal.SIGCONT)
        resumed = time.monotonic()
        recovery_s = await _until(
            "every client to open a stream after the stall", lambda: len(churn.back(resumed)) == CLIENTS
        )
        recovered = time.monotonic()
        await _until(
            "every client to open a stream again, the churn going on",
            lambda: len(churn.back(recovered)) == CLIENTS,
        )
    finally:
        done.set()
        for task in running:
            task.cancel()
        # The probes still out are answered, or given up on, within PROBE_CEILING_S.
        await asyncio.gather(*running, prober, *out, return_exceptions=True)
    metrics = stack.metrics("api")

    # /healthz answered every probe, as soon as the API ran: each is timed without the stall.
    assert not [p for p in probes if p.answered is None], "a /healthz probe went unanswered"
    waits = [_running(p, stopped, resumed) for p in probes]
    worst = max(waits)
    # Its only other answer: 503 for a check older than 3 s, just after SIGCONT (a true report).
    wrong = [
        (round(p.sent - resumed, 2), p.body[-200:]) for p in probes if p.status != 200 and STALE not in p.body
    ]
    assert not wrong, f"/healthz answered otherwise than 200 or stale: {wrong}"
    assert all(p.status == 200 for p in probes if p.sent > recovered), "/healthz not 200 after the recovery"

    # No work for the clients who gave up during the stall: the API opened about as many streams as
    # the clients received (before the fix, one more for each of them).
    gave_up = len([t for t in churn.abandoned if stopped < t < resumed])
    served = _sample(metrics, "planwright_http_requests_total", route="/jobs/{job_id}/events", status="200")
    gone = _sample(metrics, "planwright_sse_streams_refused_total", stream="job_events", reason="client_gone")
    print(
        f"\n{CLIENTS} clients, {STALL_S:g}s stall: every client back {recovery_s:.2f}s after SIGCONT; "
        f"/healthz worst {worst:.3f}s over {len(waits)} probes; {gave_up} gave up during the stall, "
        f"{gone:.0f} dropped unread; streams opened: {served:.0f} by the API, {len(churn.opened)} received"
    )
    assert gave_up > 0, "no client gave up during the stall: the test did not stall the API"
    extra = served - len(churn.opened)
    assert extra < gave_up / 4, f"the API opened {extra:.0f} streams for clients who had left"
    assert not churn.failed, f"{len(churn.failed)} connections failed: {churn.failed[:5]}"
    assert worst < HEALTHZ_BOUND_S, f"/healthz took {worst:.2f}s to answer"
