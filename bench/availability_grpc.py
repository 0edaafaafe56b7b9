"""QueryAvailability end to end through gRPC, 10 participants over Google and Microsoft, with 100 ms of
injected provider latency, beside one provider round trip measured in the same run.

    PYTHONPATH=libs:. .venv/bin/python -m bench.availability_grpc [--queries 200]

The sandbox and the availability service run as their own processes (``python -m sandbox``,
``python -m services.availability`` configured by environment, free/busy cache off so every query
reads both providers); directory, identity and booking are the in-test stand-ins of their contracts
(``tests/integration/availability/standins.py``), served from this process, with real sandbox tokens.
One provider round trip is the median of direct free/busy calls (5 calendars, same latency) to the
slower of the two providers. Targets: p50 under 1.5x and p99 under 2x one round trip, which needs
the two providers (and bookings) read in parallel.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import grpc
import httpx
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench._report import report
from kit.settings import DEV_SERVICE_TOKEN
from providers import ProviderEndpoints, ProviderHttp, Providers
from rendezvous.availability.v1 import availability_resources_pb2 as res
from rendezvous.availability.v1 import availability_service_pb2 as pb
from rendezvous.availability.v1 import availability_service_pb2_grpc as pb_grpc
from rendezvous.common.v1 import common_pb2
from rendezvous.identity.v1 import identity_service_pb2 as identity_pb
from sandbox.testing import SandboxAdmin
from tests.integration.availability.standins import ORG, start_standins, stop_standins

BENCH = "availability_grpc"
ROOT = Path(__file__).resolve().parents[1]
AUTH = (("authorization", f"Bearer {DEV_SERVICE_TOKEN}"),)
GOOGLE = ["ada@northwind.example", "grace@northwind.example", "alan@northwind.example", "barbara@northwind.example", "edsger@northwind.example"]
MICROSOFT = ["megan@contoso.example", "adele@contoso.example", "alex@contoso.example", "lynne@contoso.example", "isaiah@contoso.example"]
START = datetime(2026, 10, 5, tzinfo=UTC)
END = datetime(2026, 10, 10, tzinfo=UTC)
LATENCY_MS = 100


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{ROOT / 'libs'}{os.pathsep}{ROOT}"
    env.update(extra)
    return env


async def _wait_http(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient() as client:
        while True:
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up")
            await asyncio.sleep(0.1)


async def _wait_grpc(address: str, seconds: float = 30) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        answer = await stub.Check(health_pb2.HealthCheckRequest(), wait_for_ready=True, timeout=seconds)
        if answer.status != health_pb2.HealthCheckResponse.SERVING:
            raise RuntimeError("availability is not serving")


def _request() -> pb.QueryAvailabilityRequest:
    return pb.QueryAvailabilityRequest(
        org_unit_id=ORG,
        participant_groups=[
            pb.ParticipantGroup(members=[pb.Member(email=e) for e in GOOGLE[:1] + MICROSOFT[:1]]),
            pb.ParticipantGroup(members=[pb.Member(email=e) for e in GOOGLE[1:] + MICROSOFT[1:]], required_count=4),
        ],
        query_periods=[
            common_pb2.TimeRange(
                start_time=Timestamp(seconds=int(START.timestamp())), end_time=Timestamp(seconds=int(END.timestamp()))
            )
        ],
        duration=Duration(seconds=1800),
        start_interval=Duration(seconds=900),
        response_format=pb.RESPONSE_FORMAT_SLOTS,
    )


async def _round_trips(sandbox_url: str, standins, samples: int) -> dict[str, float]:
    """Median seconds of a direct free/busy call (5 calendars) to each provider, with the same latency."""
    tokens = {}
    for credential, subject in (("cred-google", GOOGLE[0]), ("cred-ms", "")):
        answer = await standins.identity.GetAccessToken(
            identity_pb.GetAccessTokenRequest(org_unit_id=ORG, credential_id=credential, subject=subject), None
        )
        tokens[credential] = answer.access_token
    medians = {}
    async with ProviderHttp() as http:
        providers = Providers(http, ProviderEndpoints.sandbox(sandbox_url))
        calls = {
            "google": lambda: providers.google.calendar.free_busy(tokens["cred-google"], GOOGLE, START, END),
            "microsoft": lambda: providers.microsoft.calendar.get_schedule(tokens["cred-ms"], MICROSOFT[0], MICROSOFT, START, END),
        }
        for name, call in calls.items():
            await call()
            times = []
            for _ in range(samples):
                started = time.perf_counter()
                await call()
                times.append(time.perf_counter() - started)
            medians[name] = statistics.median(times)
    return medians


async def run(queries: int) -> None:
    sandbox_port, service_port = _free_port(), _free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--port", str(sandbox_port),
         "--fixture-dir", str(ROOT / "libs/sandbox/fixtures/demo")],
        env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    service = None
    standins = None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            await _wait_http(f"{sandbox_url}/_admin/health")
            standins = await start_standins(sandbox_url)
            service = subprocess.Popen(
                [sys.executable, "-m", "services.availability"],
                env=_env(
                    RENDEZVOUS_AVAILABILITY_PORT=str(service_port),
                    RENDEZVOUS_AVAILABILITY_DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/availability.db",
                    RENDEZVOUS_DIRECTORY_ADDRESS=standins.address,
                    RENDEZVOUS_IDENTITY_ADDRESS=standins.address,
                    RENDEZVOUS_BOOKING_ADDRESS=standins.address,
                    RENDEZVOUS_SANDBOX_URL=sandbox_url,
                    RENDEZVOUS_AVAILABILITY_FREE_BUSY_CACHE_SECONDS="0",
                    RENDEZVOUS_ACCESS_LOG="false",
                    RENDEZVOUS_LOG_LEVEL="WARNING",
                    OTEL_SDK_DISABLED="true",
                ),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            address = f"127.0.0.1:{service_port}"
            await _wait_grpc(address)
            async with SandboxAdmin(sandbox_url) as admin:
                for route in ("google.freeBusy", "microsoft.getSchedule"):
                    await admin.add_fault(route=route, kind="latency", latency_ms=LATENCY_MS, times=None)
                round_trips = await _round_trips(sandbox_url, standins, samples=30)
                round_trip = max(round_trips.values())
                async with grpc.aio.insecure_channel(address) as channel:
                    stub = pb_grpc.AvailabilityServiceStub(channel)
                    for _ in range(5):  # warm-up: connections, tokens, credentials
                        warm = await stub.QueryAvailability(_request(), metadata=AUTH)
                    statuses = {d.email: d.status for d in warm.member_diagnostics}
                    assert set(statuses.values()) == {res.MemberDiagnostics.STATUS_OK}, statuses
                    await admin.clear_requests()
                    latencies = []
                    for _ in range(queries):
                        started = time.perf_counter()
                        await stub.QueryAvailability(_request(), metadata=AUTH)
                        latencies.append(time.perf_counter() - started)
                    reads = await admin.requests(route="google.freeBusy") + await admin.requests(route="microsoft.getSchedule")
                    assert len(reads) == 2 * queries, "every query must read both providers (cache off)"
                    assert {r["status"] for r in reads} == {200}
        finally:
            if service is not None:
                service.terminate()
                service.wait(timeout=30)
            if standins is not None:
                await stop_standins(standins)
            sandbox.terminate()
            sandbox.wait(timeout=30)

    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(round(0.99 * len(latencies))) - 1)]
    print(
        f"one provider round trip (median of direct calls, {LATENCY_MS} ms injected): "
        + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in round_trips.items())
        + f"; {queries} queries of 10 participants (5 Google, 5 Microsoft), slowest {latencies[-1] * 1000:.1f} ms"
    )
    report(BENCH, "one provider round trip (slower provider)", round_trip * 1000, "ms", "(baseline)", True)
    report(BENCH, "QueryAvailability p50", p50 * 1000, "ms", f"< {1.5 * round_trip * 1000:.0f} ms (1.5x)", p50 < 1.5 * round_trip)
    report(BENCH, "QueryAvailability p99", p99 * 1000, "ms", f"< {2 * round_trip * 1000:.0f} ms (2x)", p99 < 2 * round_trip)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(run(args.queries))


if __name__ == "__main__":
    main()
