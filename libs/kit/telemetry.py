"""OpenTelemetry tracing for gRPC (server and client), httpx and SQLAlchemy.

Off by default. The standard variables decide: ``OTEL_TRACES_EXPORTER`` (``otlp``,
``console`` or ``none``), ``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_SERVICE_NAME``. Tests pass
their own exporter (an in-memory one) to :func:`setup_tracing`.

What is traced, once :func:`setup_tracing` has run:

* gRPC: every ``grpc.aio`` channel created afterwards (client spans, trace context sent in the
  metadata) and every :class:`~kit.grpc_server.KitServer` (server spans, continuing the caller's
  trace). The server span carries ``rendezvous.service`` (the serving service's name), so spans
  stay attributable when several services share one process and one ``service.name`` resource
  (the in-process trace test): a span belongs to the service of its nearest server ancestor.
* httpx: every request through ``httpx.AsyncHTTPTransport`` (the provider clients), whenever the
  client was created: the instrumentation wraps the transport class, not the client.
* SQLAlchemy: every engine made by :func:`kit.db.create_engine` afterwards (one span per
  statement).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)

_provider: TracerProvider | None = None

#: Attribute of a server span naming the Rendezvous service that served the call.
SERVICE_ATTRIBUTE = "rendezvous.service"


def tracing_on() -> bool:
    """Whether :func:`setup_tracing` installed a provider in this process."""
    return _provider is not None


def tracing_enabled(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    exporter = env.get("OTEL_TRACES_EXPORTER", "none").strip().lower()
    return exporter not in ("", "none") and env.get("OTEL_SDK_DISABLED", "false").lower() != "true"


def _exporter_from_env(env: Mapping[str, str]) -> SpanExporter:
    kind = env.get("OTEL_TRACES_EXPORTER", "otlp").split(",")[0].strip().lower()
    if kind == "console":
        return ConsoleSpanExporter()
    protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"))
    if protocol.startswith("http"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        return HttpExporter()
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

    return GrpcExporter()


def setup_tracing(
    service_name: str,
    exporter: SpanExporter | None = None,
    environ: Mapping[str, str] | None = None,
) -> TracerProvider | None:
    """Install a tracer provider and the gRPC/httpx instrumentation, if tracing is wanted.

    With ``exporter`` given (tests), spans go to it synchronously; otherwise the ``OTEL_*``
    variables decide and nothing is installed when they say none.
    """
    global _provider
    env = os.environ if environ is None else environ
    if exporter is None and not tracing_enabled(env):
        return None
    if _provider is None:
        resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME", service_name)})
        _provider = TracerProvider(resource=resource)
        trace.set_tracer_provider(_provider)
        _instrument_libraries()
    if exporter is not None:
        _provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        _provider.add_span_processor(BatchSpanProcessor(_exporter_from_env(env)))
    return _provider


def _instrument_libraries() -> None:
    from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorClient
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    GrpcAioInstrumentorClient().instrument()
    HTTPXClientInstrumentor().instrument()


def server_interceptors() -> list[Any]:
    """The OpenTelemetry gRPC server interceptor when tracing is on, else nothing."""
    if _provider is None:
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    return [aio_server_interceptor()]


def instrument_engine(engine: Any) -> None:
    """Trace the SQL statements of an (async) SQLAlchemy engine when tracing is on.

    The engine tracer of opentelemetry-instrumentation-sqlalchemy is attached directly, per
    engine: ``SQLAlchemyInstrumentor().instrument(engine=…)`` is a process-wide singleton that
    ignores every engine after the first (a service's second engine, or other services' engines
    in one process) and refuses to do anything at all for SQLAlchemy 2.1, which is outside the
    version range it declares although its event listeners work unchanged.
    """
    if _provider is None:
        return
    from opentelemetry import metrics
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.instrumentation.sqlalchemy.version import __version__

    scope = "opentelemetry.instrumentation.sqlalchemy"  # the scope the instrumentor itself would use
    tracer = trace.get_tracer(scope, __version__)
    usage = metrics.get_meter(scope, __version__).create_up_down_counter(
        name="db.client.connections.usage", unit="connections",
        description="The number of connections that are currently in state described by the state attribute.",
    )  # fmt: skip
    EngineTracer(tracer, engine.sync_engine, usage)


def shutdown_tracing() -> None:
    if _provider is not None:
        _provider.force_flush()
