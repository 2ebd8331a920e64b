"""What a block of work carries: the log fields ``logs.bound`` names and the trace context that
``tracing.parented`` and ``tracing.current`` make current, tracing off (the default) or on."""

import io
import json
import logging
import random
import uuid
from datetime import UTC, datetime

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from planwright.core import logs, tracing
from planwright.core.consumer import handling
from planwright.core.messages import TaskDispatch

PARENT = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
OTHER = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}


def fields() -> dict[str, str]:
    record = logging.LogRecord("planwright.x", logging.INFO, __file__, 1, "m", (), None)
    logs.ContextFilter().filter(record)
    return {k: v for k, v in record.planwright.items() if k in ("job_id", "task_id", "step")}  # type: ignore[attr-defined]


def test_bound_fields_nest_the_inner_one_wins_and_none_is_left_out():
    job, task = uuid.uuid4(), uuid.uuid4()
    with logs.bound(job_id=job, task_id=None):
        assert fields() == {"job_id": str(job)}
        with logs.bound(task_id=task, step=2):
            assert fields() == {"job_id": str(job), "task_id": str(task), "step": "2"}
            with logs.bound(task_id="t9"):
                assert fields()["task_id"] == "t9"
        assert fields() == {"job_id": str(job)}
    assert fields() == {}


def test_with_tracing_off_a_dispatch_carries_its_jobs_trace_context():
    """A span started under the job's context is not recorded; what messages built inside carry is
    the job's traceparent (a caller's trace goes on to workers that trace), and nothing leaks out."""
    assert not tracing.enabled()
    with tracing.parented(PARENT):
        span = tracing.start("dispatch k")
        with tracing.current(span):
            assert tracing.carrier()["traceparent"] == PARENT["traceparent"]
        assert tracing.carrier()["traceparent"] == PARENT["traceparent"]
    assert tracing.carrier() == {}
    with tracing.parented({}):  # no trace: nothing current
        assert tracing.carrier() == {}


def test_with_tracing_off_a_span_started_under_another_parent_is_made_current():
    other = tracing.start("elsewhere", parent=OTHER)
    with tracing.parented(PARENT), tracing.current(other):
        assert tracing.carrier()["traceparent"] == OTHER["traceparent"]


def test_with_tracing_on_the_dispatch_span_is_current_inside_its_block():
    exporter = InMemorySpanExporter()
    tracing.configure("planwright-test", exporter=exporter)
    try:
        with tracing.parented(PARENT):
            span = tracing.start("dispatch k")
            with tracing.current(span):
                inside = tracing.carrier()["traceparent"]
            span.end()
    finally:
        tracing.shutdown()
    trace_id, span_id = inside.split("-")[1:3]
    assert trace_id == PARENT["traceparent"].split("-")[1]
    assert span_id == format(span.get_span_context().span_id, "016x") != PARENT["traceparent"].split("-")[2]


def test_with_tracing_off_handling_a_message_runs_in_its_senders_trace_context():
    """What a consumer builds while handling a message carries the sender's context, as the no-op
    tracer's span would, and its log lines name the message's job and task."""
    message = TaskDispatch(
        job_id=uuid.uuid4(),
        task_id=uuid.uuid4(),
        attempt=1,
        key="k",
        tool="t",
        args={},
        goal="g",
        trace=PARENT,
    )
    with handling("tool t", message, tool="t") as span:
        assert format(span.get_span_context().trace_id, "032x") == PARENT["traceparent"].split("-")[1]
        assert tracing.carrier()["traceparent"] == PARENT["traceparent"]
        assert fields() == {"job_id": str(message.job_id), "task_id": str(message.task_id)}
    assert tracing.carrier() == {}
    assert fields() == {}
    untraced = message.model_copy(update={"trace": {}})
    with handling("tool t", untraced) as span:
        assert not span.get_span_context().is_valid
        assert tracing.carrier() == {}


def test_configured_json_logs_are_one_object_per_line_with_the_bound_ids_and_the_traceback():
    """What ``configure`` sets up writes each record as one JSON line (any text, a traceback too)."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging._srcfile, logging.logThreads, logging.logProcesses)
    try:
        logs.configure("INFO", "json")
        out = io.StringIO()
        handler = root.handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(out)
        log = logging.getLogger("planwright.test")
        with logs.bound(job_id="j1", task_id="t1"):
            log.info("attempt %d: «grüße»\nsecond line", 2)
            try:
                raise ValueError("boom")
            except ValueError:
                log.exception("failed")
        log.debug("not at INFO")
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging._srcfile, logging.logThreads, logging.logProcesses = saved[2:]
    assert [line["message"] for line in lines] == ["attempt 2: «grüße»\nsecond line", "failed"]
    assert all(line["job_id"] == "j1" and line["task_id"] == "t1" for line in lines)
    assert [(line["level"], line["logger"]) for line in lines] == [
        ("INFO", "planwright.test"),
        ("ERROR", "planwright.test"),
    ]
    assert "ValueError: boom" in lines[1]["exc_info"]
    assert "exc_info" not in lines[0]


def test_a_json_line_s_time_is_the_one_datetime_gives_though_its_second_is_kept():
    """``ts`` is ``isoformat(timespec="milliseconds")`` of the record's time, to the digit: rounding to
    the microsecond as ``datetime`` does (a carry into the next second included), in any order."""
    edges = [0.0, 0.0004995, 0.0005, 0.0000015, 0.9994999, 0.9995, 0.99999949, 0.9999995, 0.9999996]
    times = [1_765_000_000 + second + edge for second in range(5) for edge in edges]
    rng = random.Random(11)
    times += [rng.uniform(1e9, 2e9) for _ in range(2000)]  # far apart: a new second almost every time
    base = rng.uniform(1e9, 2e9)
    times += [base + rng.uniform(0, 3) for _ in range(2000)]  # a few seconds, out of order
    times += [-1.5, -0.0000004, -0.9999996, -86_400.25]  # before 1970: the fraction borrows
    times = [-0.5, *times]  # first: a fresh formatter's first record, in the second -1 (1969)
    formatter = logs.JsonFormatter()
    for created in times:
        record = logging.LogRecord("planwright.x", logging.INFO, __file__, 1, "m", (), None)
        record.created = created
        expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        assert json.loads(formatter.format(record))["ts"] == expected, repr(created)
