"""Run in its own process: an httpx client made BEFORE tracing is set up, and two engines made by
``kit.db.create_engine`` after it, each used once; print the spans as JSON."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

import httpx
from aiohttp import web
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import text

from kit import telemetry


async def ping(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def main() -> None:
    app = web.Application()
    app.router.add_get("/ping", ping)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    early = httpx.AsyncClient()  # like a provider client built before tracing: still traced
    exporter = InMemorySpanExporter()
    telemetry.setup_tracing("libraries-probe", exporter=exporter, environ={})
    from kit.db import create_engine

    try:
        await early.get(f"http://127.0.0.1:{port}/ping")
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("first", "second"):
                engine = create_engine(f"sqlite+aiosqlite:///{Path(tmp) / name}.db")
                async with engine.connect() as connection:
                    await connection.execute(text(f"SELECT '{name}'"))
                await engine.dispose()
    finally:
        await early.aclose()
        await runner.cleanup()
    spans = [{"name": s.name, "kind": s.kind.name, "attributes": {k: str(v) for k, v in (s.attributes or {}).items()}}
             for s in exporter.get_finished_spans()]  # fmt: skip
    print(json.dumps(spans))


if __name__ == "__main__":
    asyncio.run(main())
