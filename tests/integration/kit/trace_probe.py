"""Run in its own process (tracing instruments gRPC globally): serve the echo service with
tracing on, make one call through a kit peer channel inside a client span, print the spans as JSON."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kit import telemetry

sys.path.insert(0, str(Path(__file__).parent))


async def main() -> None:
    exporter = InMemorySpanExporter()
    telemetry.setup_tracing("trace-probe", exporter=exporter)
    from echo_server import SERVICE, TOKEN, make_server

    from kit.channels import peer_channel

    server = make_server()
    port = await server.start()
    tracer = trace.get_tracer("probe")
    with tracer.start_as_current_span("caller"):
        async with peer_channel(f"127.0.0.1:{port}", TOKEN) as channel:
            await channel.unary_unary(f"/{SERVICE}/Echo")(b"hi")
    await server.stop(grace=0)
    spans = [
        {
            "name": s.name,
            "kind": s.kind.name,
            "trace_id": format(s.context.trace_id, "032x"),
            "span_id": format(s.context.span_id, "016x"),
            "parent": format(s.parent.span_id, "016x") if s.parent else None,
            "attributes": {k: str(v) for k, v in (s.attributes or {}).items()},
        }
        for s in exporter.get_finished_spans()
    ]
    print(json.dumps(spans))


asyncio.run(main())
