"""The access log through a real channel: one JSON line per RPC with method, code, duration and the
request id (the interceptor builds the record itself, without logging's caller lookup)."""

from __future__ import annotations

import io
import json
import logging
import re

import grpc
import pytest

from kit.logs import JsonFormatter

from .echo_server import SERVICE, TOKEN, make_server

AUTH = (("authorization", f"Bearer {TOKEN}"),)


@pytest.fixture
async def logged():
    """A running echo server and the JSON lines its access log wrote."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("echo"))
    access = logging.getLogger("rendezvous.access")
    access.addHandler(handler)
    level = access.level
    access.setLevel(logging.INFO)
    server = make_server()
    port = await server.start()
    try:
        yield f"127.0.0.1:{port}", lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        await server.stop(grace=0)
        access.removeHandler(handler)
        access.setLevel(level)


async def test_each_call_writes_one_json_line_with_method_code_duration_and_request_id(logged):
    address, lines = logged
    async with grpc.aio.insecure_channel(address) as ch:
        assert await ch.unary_unary(f"/{SERVICE}/Echo")(b"hi", metadata=(*AUTH, ("x-request-id", "req-7"))) == b"hi"
        with pytest.raises(grpc.aio.AioRpcError):
            await ch.unary_unary(f"/{SERVICE}/NotFound")(b"", metadata=AUTH)
    ok, failed = lines()
    assert {k: ok[k] for k in ("level", "service", "logger", "msg", "method", "code", "request_id")} == {
        "level": "INFO", "service": "echo", "logger": "rendezvous.access", "msg": "rpc",
        "method": f"/{SERVICE}/Echo", "code": "OK", "request_id": "req-7",
    }  # fmt: skip
    assert isinstance(ok["ms"], float) and ok["ms"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", ok["ts"])
    assert (failed["method"], failed["code"]) == (f"/{SERVICE}/NotFound", "NOT_FOUND")
    assert re.fullmatch(r"[0-9a-f]{32}", failed["request_id"])  # none was sent: one is made up


async def test_the_access_log_is_silent_above_info(logged):
    address, lines = logged
    logging.getLogger("rendezvous.access").setLevel(logging.WARNING)
    async with grpc.aio.insecure_channel(address) as ch:
        assert await ch.unary_unary(f"/{SERVICE}/Echo")(b"hi", metadata=AUTH) == b"hi"
    assert lines() == []
