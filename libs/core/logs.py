"""Logging: JSON lines for machines, readable text in a terminal; each record names its job, task
and trace (docs/observability.md).

Both formats mask the configured secrets (``redact``) in the whole line, traceback included.
``LOG_FORMAT=auto`` (the default) writes text when stderr is a terminal and JSON otherwise;
``json`` or ``text`` force one. A service binds the job and task it is working on with ``bound``;
the trace and span ids come from the current OpenTelemetry span.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import sys
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

import orjson
from opentelemetry import trace

from planwright.core.redact import redact

LogFormat = Literal["auto", "json", "text"]
T = TypeVar("T")
FIELDS = ("job_id", "task_id", "trace_id", "span_id")

# (name, value) pairs: an immutable default, and each ``bound`` block sets a new tuple, inner pairs
# after outer ones (a later name wins). Values become text only when a record is logged.
_bound: contextvars.ContextVar[tuple[tuple[str, object], ...]] = contextvars.ContextVar(
    "planwright_log_fields", default=()
)


class _Bound(Generic[T]):
    """``outer`` entered (a trace context, a span), then the fields bound. A class, not a generator:
    every service enters one for every message it handles (~1 us, where a generator took ~5)."""

    __slots__ = ("_fields", "_outer", "_token")

    def __init__(self, fields: dict[str, object], outer: contextlib.AbstractContextManager[T]) -> None:
        self._fields = tuple((k, v) for k, v in fields.items() if v is not None)
        self._outer = outer

    def __enter__(self) -> T:
        entered = self._outer.__enter__()
        self._token = _bound.set(_bound.get() + self._fields)
        return entered

    def __exit__(self, *exc: Any) -> bool | None:
        _bound.reset(self._token)
        return self._outer.__exit__(*exc)


def bound(**fields: object) -> contextlib.AbstractContextManager[None]:
    """Name the job/task (or anything else) in every record logged inside the block."""
    return _Bound(fields, contextlib.nullcontext())


def bound_in(
    outer: contextlib.AbstractContextManager[T], **fields: object
) -> contextlib.AbstractContextManager[T]:
    """``outer`` (a trace context or a span) for the block, with ``fields`` bound in it as ``bound``
    binds them; entering gives what ``outer`` gives."""
    return _Bound(fields, outer)


class ContextFilter(logging.Filter):
    """Puts the bound fields and the current trace on each record (as attributes, for any formatter)."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = {name: str(value) for name, value in _bound.get()}
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            fields["trace_id"] = format(ctx.trace_id, "032x")
            fields["span_id"] = format(ctx.span_id, "016x")
        record.planwright = fields
        return True


def _fields(record: logging.LogRecord) -> dict[str, str]:
    fields: dict[str, str] = getattr(record, "planwright", {})
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the bound ids, and any traceback.

    The time is ``datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")``, with the
    text up to the second kept from the last record: a process logs a line per request and per tool
    attempt, and building the whole text each time was over half of formatting one (``_Stamps``)."""

    def __init__(self) -> None:
        super().__init__()
        self._stamps = _Stamps()

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": self._stamps.text(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            **_fields(record),
        }
        if record.exc_info:
            line["exc_info"] = redact(self.formatException(record.exc_info))
        return orjson.dumps(line, default=str).decode()


class _Stamps:
    """ISO 8601 UTC times to the millisecond, as ``datetime.isoformat(timespec="milliseconds")``
    gives them, the date and time of day built once per second (kept as one tuple, so a thread
    never pairs one second's text with another's)."""

    __slots__ = ("_kept",)

    def __init__(self) -> None:
        self._kept = (math.nan, "")  # no second equals NaN: the first record builds its text

    def text(self, created: float) -> str:
        # As datetime.fromtimestamp does: the fraction of the second rounded to the microsecond (half
        # to even), which can carry into the next second (or borrow from the one before, before 1970).
        fraction, second = math.modf(created)
        micro = round(fraction * 1_000_000)
        if micro >= 1_000_000:
            micro -= 1_000_000
            second += 1.0
        elif micro < 0:
            micro += 1_000_000
            second -= 1.0
        kept_second, head = self._kept
        if second != kept_second:
            head = datetime.fromtimestamp(second, UTC).isoformat()[:19]  # ...T18:40:12
            self._kept = (second, head)
        return f"{head}.{micro // 1000:03d}+00:00"


class TextFormatter(logging.Formatter):
    """``time level logger: message [job=… task=… trace=…]``, for people at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = redact(super().format(record))
        fields = _fields(record)
        tags = " ".join(f"{k.removesuffix('_id')}={fields[k]}" for k in FIELDS[:3] if k in fields)
        if not tags:
            return text
        head, sep, rest = text.partition("\n")  # keep a traceback below the tagged first line
        return f"{head} [{tags}]{sep}{rest}"


def configure(level: str = "INFO", fmt: LogFormat = "auto") -> None:
    """Send every logger's records (uvicorn's too) to stderr in ``fmt``.

    Records do not look up the caller's file and line, nor the thread and process: neither format
    shows them, and at INFO a process logs a line per request and per tool attempt (the look-ups were
    about a quarter of a line's cost; the Logging HOWTO's "Optimization" section names these switches).
    """
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
