"""CreateBooking throughput and latency on PostgreSQL: email-mode bookings with 4 attendees.

    PYTHONPATH=libs:. .venv/bin/python -m bench.booking_create

The booking service runs as its own process on a fresh PostgreSQL database (created on the server of
``bench._report.postgres_url()``: ``RENDEZVOUS_BENCH_POSTGRES_URL``, else ``RENDEZVOUS_TEST_POSTGRES_URL``,
else the local server), with the full kit interceptor chain (auth, request ids, error mapping; access log to
/dev/null). Its peers (identity, directory, availability) are fast in-process stand-ins of its outbound
ports, so the figure is the booking service's own cost: validation, the slot decision (exclusion
constraint), the booking row, its parties and slots, and five iMIP messages (organizer + 4 attendees) built
and committed to the outbox in the same transaction. The outbox dispatcher is off here
(bench/booking_outbox.py measures it), so mail stays queued. One client process drives it with 8 concurrent
calls over distinct organizers. The service process's CPU time per booking is printed too: on a shared
machine it says more than the rate.
Targets: at least 100 bookings/s sustained, p99 under 150 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import grpc

from bench._report import log_like_a_service, postgres_url, report

TOKEN = "bench-token"
METADATA = (("authorization", f"Bearer {TOKEN}"),)
ORGANIZERS = 200


async def _serve(port: int, database_url: str) -> None:
    from services.booking.bootstrap import bootstrap
    from services.booking.domain.model import AccessMode, CalendarRoute, Provider
    from services.booking.ports import Account, FreeBusy, OrgUnit, Resolution, Verification
    from services.booking.settings import BookingSettings

    log_like_a_service("booking")

    class FastPeers:
        """Identity, directory and availability answering at once: verified, NO_ACCESS, free."""

        async def verify_organizer(self, org_unit_id: str, email: str) -> Verification:
            return Verification(True, method="DIRECTORY")

        async def access_token(self, org_unit_id: str, credential_id: str, subject: str = "", rejected: str = "") -> str:
            return "unused"

        async def get_unit(self, org_unit_id: str) -> OrgUnit:
            return OrgUnit(org_unit_id, "Bench", "invites@bench.example")

        async def resolve(self, org_unit_id: str, email: str) -> Resolution:
            return Resolution(Account(email, "Organizer", "Europe/London"),
                              CalendarRoute(AccessMode.NO_ACCESS, Provider.UNSPECIFIED, "cal-1"), True, "ACTIVE")

        async def free_busy(self, org_unit_id: str, email: str, start: datetime, end: datetime) -> FreeBusy:
            return FreeBusy(email)

    peers = FastPeers()
    settings = BookingSettings(port=port, database_url=database_url, service_token=TOKEN, access_log=True,
                               workers_enabled=False, inbound_smtp_enabled=False)
    app = await bootstrap(settings, identity=peers, directory=peers, availability=peers)
    await app.server.run()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fresh_database(base: str) -> tuple[str, str]:
    import psycopg2
    from sqlalchemy.engine import make_url

    url = make_url(base)
    name = f"rdv_bench_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
                             password=url.password or None, dbname=url.database or "postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    return name, url.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)


def _drop_database(base: str, name: str) -> None:
    import psycopg2
    from sqlalchemy.engine import make_url

    url = make_url(base)
    admin = psycopg2.connect(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
                             password=url.password or None, dbname=url.database or "postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _drive(
    address: str, seconds: float, warmup: float, concurrency: int, server_pid: int
) -> tuple[float, list[float], int, float]:
    from kit.convert import to_timestamp
    from rendezvous.booking.v1 import booking_resources_pb2 as res
    from rendezvous.booking.v1 import booking_service_pb2 as pb
    from rendezvous.booking.v1 import booking_service_pb2_grpc as pb_grpc

    base = datetime(2030, 1, 7, 0, 0, tzinfo=UTC)
    counter = 0

    def request() -> pb.CreateBookingRequest:
        nonlocal counter
        counter += 1
        organizer, slot = counter % ORGANIZERS, counter // ORGANIZERS
        start = base + timedelta(minutes=30 * slot)
        return pb.CreateBookingRequest(
            org_unit_id="org-bench", organizer_email=f"organizer{organizer}@bench.example",
            attendees=[res.Attendee(email=f"guest{i}@example.org", display_name=f"Guest {i}") for i in range(4)],
            start_time=to_timestamp(start), end_time=to_timestamp(start + timedelta(minutes=30)),
            summary="Benchmark meeting", description="Agenda", location="Room 1",
            request_id=uuid.uuid4().hex,
        )

    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.BookingServiceStub(channel)
        await stub.CreateBooking(request(), metadata=METADATA, wait_for_ready=True, timeout=60)
        latencies: list[float] = []
        errors = 0
        measuring = False

        async def worker(stop_at: float) -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                try:
                    await stub.CreateBooking(request(), metadata=METADATA, timeout=30)
                except grpc.aio.AioRpcError:
                    errors += 1
                    continue
                if measuring:
                    latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker(time.perf_counter() + warmup) for _ in range(concurrency)))
        measuring = True
        began, cpu_before = time.perf_counter(), _cpu_seconds(server_pid)
        await asyncio.gather(*(worker(began + seconds) for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - began, _cpu_seconds(server_pid) - cpu_before
    return len(latencies) / elapsed, latencies, errors, cpu / max(1, len(latencies)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.port, args.database_url))
        return
    base = postgres_url()
    name, url = _fresh_database(base)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.booking_create", "--serve", "--port", str(port), "--database-url", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        rate, latencies, errors, cpu_ms = asyncio.run(
            _drive(f"127.0.0.1:{port}", args.seconds, args.warmup, args.concurrency, server.pid))
    finally:
        server.terminate()
        server.wait(30)
        _drop_database(base, name)
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    report("booking_create", "email-mode CreateBooking (4 attendees) bookings/s", rate, "/s", ">= 100 /s", rate >= 100)
    report("booking_create", "CreateBooking latency p50", p50, "ms", "-", True)
    report("booking_create", "CreateBooking latency p99", p99, "ms", "< 150 ms", p99 < 150)
    report("booking_create", "booking service CPU per booking", cpu_ms, "ms", "-", True)
    report("booking_create", "failed calls during the run", errors, "calls", "0", errors == 0)


if __name__ == "__main__":
    main()
