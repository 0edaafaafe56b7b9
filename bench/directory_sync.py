"""Directory sync and ResolveAccount figures against the sandbox's Microsoft Graph.

    PYTHONPATH=libs:. .venv/bin/python -m bench.directory_sync [--users 100000] [--database-url URL]
    PYTHONPATH=libs:. .venv/bin/python -m bench.directory_sync --resolve-only [--database-url URL]

``--resolve-only`` measures (and reports) only ResolveAccount. It reuses the accounts an earlier run
left in the database at ``--database-url`` (the unit named "Bench" holding ``--users`` accounts, e.g.
``sqlite+aiosqlite:////tmp/directory-bench.db``); when there are none it syncs them first, as a full
run does, without reporting the sync figures.

The sandbox runs as its own process with 100,000 generated Contoso users; the directory service's
use cases run in this process on a fresh database (SQLite file by default; a PostgreSQL URL with
``--database-url``), with an in-process identity that hands out the sandbox's client-credentials
token. Figures, each beside its target:

* a full sync (first run: the whole ``/users/delta`` listing, 999 users per page) — < 60 s, and the
  peak growth of this process's resident memory during it — < 200 MB;
* a resync with no change, full listing again — < one third of the full sync (the incremental one,
  a single delta page, is printed too);
* an incremental sync after 100 users changed — < 2 s;
* ResolveAccount calls/s through gRPC (directory server process, full interceptor chain, 100,000
  accounts, emails picked at random) next to a bare ``grpc.aio`` echo server in the same run
  (bench/kit_rpc's) — >= 50 %. The directory server runs with its routing cache as deployed (the
  unit is loaded in the background during the first round; the best of three rounds counts); the
  same server with the cache off (every call reads the database) and the resident memory of both
  are printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import grpc

from bench._report import log_like_a_service, report

CONTOSO = "11111111-1111-1111-1111-111111111111"
DOMAIN = "contoso.example"
TOKEN = "bench-token"
METADATA = (("authorization", f"Bearer {TOKEN}"),)
NAME = "directory_sync"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakRss:
    """Samples this process's resident memory every 20 ms while active."""

    def __init__(self) -> None:
        self.start = self.peak = _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss_mb())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())

    @property
    def growth(self) -> float:
        return self.peak - self.start


class BenchIdentity:
    """The identity port, in process: an app-only Graph token from the sandbox's token endpoint."""

    def __init__(self, providers: Any) -> None:
        self._providers = providers
        self._token = ""

    async def access_token(self, org_unit_id: str, credential_id: str, subject: str = "", rejected: str = "") -> str:
        if not self._token:
            self._token = (await self._providers.microsoft.identity.client_credentials(CONTOSO)).access_token
        return self._token

    async def get_credential(self, org_unit_id: str, credential_id: str) -> Any:
        from services.directory.domain.model import Provider, Purpose
        from services.directory.ports import Credential

        return Credential(credential_id, Provider.MICROSOFT, Purpose.DIRECTORY, None, True, True)

    async def start_authorization(self, request: Any) -> Any:
        raise NotImplementedError

    async def get_authorization(self, org_unit_id: str, authorization_id: str) -> Any:
        raise NotImplementedError

    async def revoke_credential(self, org_unit_id: str, credential_id: str) -> None:
        return None


def _start_sandbox() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": "libs:."}
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "--port", str(port), "--providers", "microsoft"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # fmt: skip
    assert proc.stdout is not None
    proc.stdout.readline()  # the "listening" line
    return proc, f"http://127.0.0.1:{port}"


async def _sync(app: Any, unit: str, connection: str, *, full: bool = False) -> tuple[Any, float]:
    started = time.perf_counter()
    run = await app.sync.start(unit, connection, False, full, "")
    await app.spawner.drain()
    elapsed = time.perf_counter() - started
    run = await app.sync.get_run(unit, run.id)
    if run.state.value != "SUCCEEDED":
        raise RuntimeError(f"sync run ended {run.state.value}: {run.failure_reason} {run.failure_message}")
    return run, elapsed


async def measure_sync(sandbox_url: str, database_url: str, users: int) -> dict[str, Any]:
    from datetime import timedelta

    from providers import OAuthApp, ProviderApps, ProviderEndpoints, ProviderHttp, Providers
    from sandbox.testing import SandboxAdmin
    from services.directory.bootstrap import bootstrap
    from services.directory.domain.model import AccessMode, Grant, Provider
    from services.directory.settings import DirectorySettings

    async with SandboxAdmin(sandbox_url) as admin, ProviderHttp() as http:
        made = await admin.bulk_users("microsoft", tenant=CONTOSO, domain=DOMAIN, count=users, prefix="bench")
        print(f"sandbox: {made['created']} users generated", flush=True)
        providers = Providers(http, ProviderEndpoints.sandbox(sandbox_url),
                              ProviderApps(microsoft=OAuthApp("rendezvous-ms-client", "rendezvous-ms-secret")))  # fmt: skip
        settings = DirectorySettings(port=0, database_url=database_url, sandbox_url=sandbox_url, background_enabled=False,
                                     access_log=False, sync_page_size=999)  # fmt: skip
        app = await bootstrap(settings, identity=BenchIdentity(providers), provider_http=http)
        try:
            unit = (await app.units.create("Bench", "", "")).id
            await app.connections.connect_calendar(unit, Provider.NONE, AccessMode.NO_ACCESS, [DOMAIN], "",
                                                   Grant.AUTHORIZATION_CODE, "", "")  # fmt: skip
            connection = (await app.connections.connect_directory(
                unit, Provider.MICROSOFT, [DOMAIN], "bench-credential", Grant.AUTHORIZATION_CODE, "", timedelta(0),
                0.0, "", "")).connection.id  # fmt: skip

            with PeakRss() as memory:
                first, full_seconds = await _sync(app, unit, connection)
            print(f"full sync: {first.listed_count} listed, {first.created_count} created", flush=True)
            resync, resync_seconds = await _sync(app, unit, connection, full=True)
            assert resync.created_count == resync.updated_count == resync.deactivated_count == 0
            quiet, quiet_seconds = await _sync(app, unit, connection)
            assert quiet.incremental and quiet.updated_count == 0

            changed = random.Random(7).sample(range(users), 100)
            for n in changed:
                await admin.update_user("microsoft", f"bench{n}@{DOMAIN}", displayName=f"Renamed {n}")
            delta, delta_seconds = await _sync(app, unit, connection)
            assert delta.incremental and delta.updated_count == 100, (delta.listed_count, delta.updated_count)
            emails = [f"bench{n}@{DOMAIN}" for n in range(users)]
        finally:
            await app.engine.dispose()
    return {"unit": unit, "emails": emails, "full": full_seconds, "memory": memory.growth, "rss_start": memory.start,
            "listed": first.listed_count, "resync": resync_seconds, "quiet": quiet_seconds, "delta": delta_seconds}  # fmt: skip


async def existing_bench_data(database_url: str, users: int) -> dict[str, Any] | None:
    """The unit and emails an earlier run synced into this database, if it holds them all."""
    from sqlalchemy import func, select

    from kit.db import create_engine
    from services.directory.adapters.tables import accounts, org_units

    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            units = (await conn.execute(select(org_units.c.id).where(org_units.c.display_name == "Bench"))).scalars().all()
            for unit in units:
                count = (await conn.execute(select(func.count()).where(accounts.c.org_unit_id == unit,
                                                                       accounts.c.email.like(f"bench%@{DOMAIN}")))).scalar()  # fmt: skip
                if count == users:
                    return {"unit": unit, "emails": [f"bench{n}@{DOMAIN}" for n in range(users)]}
    except Exception:  # no such tables yet: a fresh database
        return None
    finally:
        await engine.dispose()
    return None


# ------------------------------------------------------------------------------------ ResolveAccount


async def _serve_directory(database_url: str, port: int, cache_entries: int) -> None:
    from services.directory.bootstrap import bootstrap
    from services.directory.settings import DirectorySettings

    log_like_a_service("bench")
    settings = DirectorySettings(port=port, database_url=database_url, service_token=TOKEN, background_enabled=False,
                                 access_log=True, routing_cache_entries=cache_entries)  # fmt: skip
    app = await bootstrap(settings, migrate=False)
    await app.server.run()


async def _drive_resolve(address: str, unit: str, emails: list[str], seconds: float, concurrency: int) -> float:
    from rendezvous.directory.v1 import directory_service_pb2 as pb
    from rendezvous.directory.v1 import directory_service_pb2_grpc as pb_grpc

    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.DirectoryServiceStub(channel)
        answer = await stub.ResolveAccount(pb.ResolveAccountRequest(org_unit_id=unit, email=emails[0]), metadata=METADATA,
                                           wait_for_ready=True, timeout=30)  # fmt: skip
        assert answer.account.email == emails[0] and answer.calendar.calendar_connection_id
        done = 0
        stop_at = time.perf_counter() + seconds
        pick = random.Random(11)

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop_at:
                await stub.ResolveAccount(pb.ResolveAccountRequest(org_unit_id=unit, email=pick.choice(emails)),
                                          metadata=METADATA)  # fmt: skip
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - started)


def measure_resolve(database_url: str, unit: str, emails: list[str], seconds: float = 3.0, rounds: int = 3,
                    concurrency: int = 32) -> dict[str, float]:  # fmt: skip
    from bench import kit_rpc
    from services.directory.settings import DirectorySettings

    bare, bare_address = kit_rpc._start("bare")
    servers = {}
    for name, entries in (("resolve", DirectorySettings().routing_cache_entries), ("uncached", 0)):
        port = _free_port()
        servers[name] = (port, subprocess.Popen(
            [sys.executable, "-m", "bench.directory_sync", "--serve-directory", "--port", str(port), "--database-url",
             database_url, "--routing-cache-entries", str(entries)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
    best = {"bare": 0.0, "resolve": 0.0, "uncached": 0.0}
    try:
        for _ in range(rounds):
            best["bare"] = max(best["bare"], asyncio.run(kit_rpc._drive(bare_address, seconds, concurrency)))
            for name, (port, _proc) in servers.items():
                best[name] = max(best[name], asyncio.run(
                    _drive_resolve(f"127.0.0.1:{port}", unit, emails, seconds, concurrency)))  # fmt: skip
        for name, (_port, proc) in servers.items():
            best[f"{name}_rss"] = _process_rss_mb(proc.pid)
    finally:
        for proc in (bare, *(proc for _port, proc in servers.values())):
            proc.terminate()
            proc.wait(10)
    return best


def _process_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def report_resolve(database_url: str, unit: str, emails: list[str]) -> None:
    backend = database_url.split(":", 1)[0].split("+", 1)[0]
    best = measure_resolve(database_url, unit, emails)
    ratio = best["resolve"] / best["bare"] * 100
    report(NAME, f"bare grpc.aio unary calls/s (beside {backend})", best["bare"], "calls/s", "baseline", True)
    report(NAME, f"ResolveAccount calls/s ({backend})", best["resolve"], "calls/s", "-", True)
    report(NAME, f"ResolveAccount / bare throughput ({backend})", ratio, "%", ">= 50 %", ratio >= 50)
    uncached = best["uncached"] / best["bare"] * 100
    report(NAME, f"ResolveAccount / bare, routing cache off ({backend})", uncached, "%", "-", True)
    report(NAME, f"directory server RSS, routing cache on ({backend}) MB", best["resolve_rss"], "MB", "-", True)
    report(NAME, f"directory server RSS, routing cache off ({backend}) MB", best["uncached_rss"], "MB", "-", True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--serve-directory", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--routing-cache-entries", type=int, default=0)
    parser.add_argument("--resolve-only", action="store_true", help="measure only ResolveAccount (see the docstring)")
    args = parser.parse_args()
    if args.serve_directory:
        asyncio.run(_serve_directory(args.database_url, args.port, args.routing_cache_entries))
        return
    with tempfile.TemporaryDirectory() as tmp:
        database_url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'directory.db'}"
        if args.resolve_only:
            data = asyncio.run(existing_bench_data(database_url, args.users)) if args.database_url else None
            if data is None:
                sandbox, sandbox_url = _start_sandbox()
                try:
                    data = asyncio.run(measure_sync(sandbox_url, database_url, args.users))
                finally:
                    sandbox.terminate()
                    sandbox.wait(10)
            report_resolve(database_url, data["unit"], data["emails"])
            return
        sandbox, sandbox_url = _start_sandbox()
        try:
            sync = asyncio.run(measure_sync(sandbox_url, database_url, args.users))
        finally:
            sandbox.terminate()
            sandbox.wait(10)
        backend = database_url.split(":", 1)[0].split("+", 1)[0]
        label = f"{args.users // 1000}k users, {backend}"
        report(NAME, f"full sync ({label}) s", sync["full"], "s", "< 60 s", sync["full"] < 60)
        report(NAME, f"full sync peak RSS growth ({label}) MB", sync["memory"], "MB", "< 200 MB", sync["memory"] < 200)
        third = sync["full"] / 3
        report(NAME, f"no-change full resync ({label}) s", sync["resync"], "s", f"< {third:.1f} s", sync["resync"] < third)
        report(NAME, f"no-change delta resync ({label}) s", sync["quiet"], "s", f"< {third:.1f} s", sync["quiet"] < third)
        report(NAME, f"delta sync of 100 changes ({label}) s", sync["delta"], "s", "< 2 s", sync["delta"] < 2)
        report_resolve(database_url, sync["unit"], sync["emails"])
        print(json.dumps({"listed": sync["listed"], "rss_start_mb": round(sync["rss_start"], 1),
                          "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))  # fmt: skip


if __name__ == "__main__":
    main()
