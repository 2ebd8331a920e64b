"""OpenTelemetry tracing: one trace per job, across every process (docs/observability.md).

Off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set: then each process exports its spans over OTLP/HTTP
under its own service name (``planwright-api``, ``planwright-worker``, ...). The trace context travels
in W3C form inside every bus message (``Message.trace``), so the span a consumer opens for a message is
a child of the span that sent it:

    POST /jobs (api)                        the root; its context is stored on the job
    ├── plan (planner)
    ├── policy.decide <tool> (policy)       one per task the gate decides
    ├── dispatch <task> (orchestrator)      one per attempt
    │   └── tool <tool> (worker)
    │       └── review <task> (critic)
    └── job.<status> (orchestrator)

The Orchestrator parents what it starts to the job's root rather than to whatever message woke it, so
a job's trace stays a shallow tree however many tasks it has.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from contextvars import Token
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span as Span  # re-exported: services type their spans with it
from opentelemetry.trace import SpanKind as SpanKind
from opentelemetry.trace import Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    # The SDK (and the OTLP exporter) are only loaded by ``configure``: with tracing off, a process
    # needs the API alone (no-op tracer, context, W3C propagation).
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

_PROPAGATOR = TraceContextTextMapPropagator()
_provider: TracerProvider | None = None
_tracer: trace.Tracer = trace.NoOpTracer()


def configure(
    service_name: str, *, endpoint: str | None = None, exporter: SpanExporter | None = None
) -> None:
    """Export this process's spans as ``service_name`` from now on: to ``exporter``, or over OTLP/HTTP
    to ``endpoint`` (``OTEL_EXPORTER_OTLP_ENDPOINT``: the collector's base URL; spans go to
    ``/v1/traces`` under it, as the OTLP spec says)."""
    global _provider, _tracer
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    shutdown()
    if exporter is None:
        if not endpoint:
            raise ValueError("tracing needs an exporter or an OTLP endpoint")
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")
    _provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    _provider.add_span_processor(BatchSpanProcessor(exporter))
    _tracer = _provider.get_tracer("planwright")


def shutdown() -> None:
    """Export what is buffered and turn tracing off (at process exit, or between tests)."""
    global _provider, _tracer
    if _provider is not None:
        _provider.shutdown()
    _provider = None
    _tracer = trace.NoOpTracer()


def enabled() -> bool:
    """Whether spans are recorded and exported (``configure`` was called)."""
    return _provider is not None


def carrier() -> dict[str, str]:
    """The current trace context as W3C headers (``traceparent``, ``tracestate``); empty if none."""
    headers: dict[str, str] = {}
    _PROPAGATOR.inject(headers)
    return headers


def _context(parent: Mapping[str, str] | None) -> otel_context.Context | None:
    """The context a W3C carrier names; None (the current one) when it names none."""
    return _PROPAGATOR.extract(dict(parent)) if parent and "traceparent" in parent else None


def start(
    name: str,
    parent: Mapping[str, str] | None = None,
    attributes: Mapping[str, Any] | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
) -> Span:
    """Start a span (child of ``parent``, a W3C carrier, or of the current span); the caller ends it."""
    return _tracer.start_span(name, context=_context(parent), kind=kind, attributes=_attrs(attributes))


def span(
    name: str,
    parent: Mapping[str, str] | None = None,
    attributes: Mapping[str, Any] | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
) -> contextlib.AbstractContextManager[Span]:
    """A current span for the block: messages built inside it carry its context. An exception that
    leaves the block marks the span as an error. With tracing off the block runs in ``parent``'s
    context, which is what a span of the no-op tracer would carry, without making one (~1 us, not ~9:
    every service enters one for every message it handles)."""
    if _provider is None:
        return _Attached(_context(parent))
    return _tracer.start_as_current_span(
        name, context=_context(parent), kind=kind, attributes=_attrs(attributes)
    )


class _Attached:
    """``ctx`` (if any) current for the block; entering gives the span current in it."""

    __slots__ = ("_ctx", "_token")

    def __init__(self, ctx: otel_context.Context | None) -> None:
        self._ctx = ctx
        self._token: Token[otel_context.Context] | None = None

    def __enter__(self) -> Span:
        if self._ctx is not None:
            self._token = otel_context.attach(self._ctx)
        return trace.get_current_span()

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            otel_context.detach(self._token)


_NOTHING = contextlib.nullcontext()


def parented(parent: Mapping[str, str] | None) -> contextlib.AbstractContextManager[object]:
    """Make ``parent`` (a W3C carrier) the current context for the block, without a span of its own."""
    ctx = _context(parent)
    return _NOTHING if ctx is None else _Attached(ctx)


def current(s: Span) -> contextlib.AbstractContextManager[object]:
    """Make a span started with ``start`` current for the block, without ending it.

    With tracing off, a span that ``start`` made under the current one carries that one's context
    (the no-op tracer's spans carry their parent's), so there is nothing to change and no context
    is attached for it: the Orchestrator does this for every dispatch.
    """
    if _provider is None and s.get_span_context() == trace.get_current_span().get_span_context():
        return _NOTHING
    return trace.use_span(s, end_on_exit=False)


def failed(s: Span, reason: str) -> None:
    s.set_status(Status(StatusCode.ERROR, reason))


def current_ids() -> tuple[str | None, str | None]:
    """``(trace_id, traceparent)`` of the current span, or ``(None, None)`` when nothing is traced."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None, None
    return format(ctx.trace_id, "032x"), carrier().get("traceparent")


def _attrs(attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Span attributes must be primitives: drop ``None`` and stringify the rest (UUIDs, enums).
    Nothing when tracing is off: spans are not recorded, so their attributes would be thrown away."""
    if not attributes or _provider is None:
        return None
    return {
        k: v if isinstance(v, str | bool | int | float) else str(v)
        for k, v in attributes.items()
        if v is not None
    }
