"""Unary RPC throughput through the kit's full interceptor chain vs a bare ``grpc.aio`` server.

    PYTHONPATH=libs:. .venv/bin/python -m bench.kit_rpc

Both servers run as separate processes on this machine in the same run, serving the same
echo handler; one client process drives each with the same concurrency. The kit server has
authentication, request ids, error mapping and the JSON access log on (written to /dev/null).
Target: the kit keeps at least 70% of the bare server's throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time

import grpc

from bench._report import log_like_a_service, report

SERVICE = "rendezvous.bench.v1.EchoService"
TOKEN = "bench-token"
METADATA = (("authorization", f"Bearer {TOKEN}"),)


def _identity(b: bytes) -> bytes:
    return b


async def _echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request


def _add(server: grpc.aio.Server) -> None:
    handler = grpc.unary_unary_rpc_method_handler(_echo, request_deserializer=_identity, response_serializer=_identity)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {"Echo": handler}),))


async def _serve(kind: str, port: int) -> None:
    if kind == "bare":
        server = grpc.aio.server()
        _add(server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        await server.wait_for_termination()
        return
    from kit.grpc_server import Binding, KitServer
    from kit.settings import ServiceSettings

    log_like_a_service("bench")
    settings = ServiceSettings(service_name="bench", port=port, service_token=TOKEN, access_log=True)
    await KitServer(settings, [Binding(SERVICE, _add)], error_domain="bench.rendezvous").run()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _drive(address: str, seconds: float, concurrency: int) -> float:
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.unary_unary(f"/{SERVICE}/Echo")
        await call(b"warm", metadata=METADATA, wait_for_ready=True, timeout=20)
        done = 0
        stop_at = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop_at:
                await call(b"x" * 64, metadata=METADATA)
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - started)


def _start(kind: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.kit_rpc", "--serve", kind, "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, f"127.0.0.1:{port}"


def measure(seconds: float = 3.0, concurrency: int = 32, rounds: int = 3) -> dict[str, float]:
    """Best of ``rounds`` alternating runs for each server; returns calls per second."""
    servers = {kind: _start(kind) for kind in ("bare", "kit")}
    best = {"bare": 0.0, "kit": 0.0}
    try:
        for _ in range(rounds):
            for kind, (_, address) in servers.items():
                best[kind] = max(best[kind], asyncio.run(_drive(address, seconds, concurrency)))
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(10)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", choices=["bare", "kit"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve, args.port))
        return
    best = measure(seconds=args.seconds)
    ratio = best["kit"] / best["bare"] * 100
    report("kit_rpc", "bare grpc.aio unary calls/s", best["bare"], "calls/s", "baseline", True)
    report("kit_rpc", "kit (full interceptor chain) unary calls/s", best["kit"], "calls/s", "-", True)
    report("kit_rpc", "kit / bare throughput", ratio, "%", ">= 70 %", ratio >= 70)


if __name__ == "__main__":
    main()
