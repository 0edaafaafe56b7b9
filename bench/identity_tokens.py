"""GetAccessToken for a cached token through gRPC, next to the kit's bare-RPC baseline.

    PYTHONPATH=libs:. .venv/bin/python -m bench.identity_tokens

Three servers run as separate processes in the same run: the bare ``grpc.aio`` echo server of
``bench.kit_rpc`` (the baseline), the kit's echo server (the same handler behind the kit's
interceptor, to tell the kit's share from identity's own) and the identity service (full kit
interceptor chain with the JSON access log written to /dev/null, SQLite database) holding one
credential whose access token is valid for an hour. One client process drives each in turn with the
same concurrency; the identity client asks for the same credential's token, which after the first
call is served from memory. Target: at least 50% of the baseline's throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc

from bench._report import log_like_a_service, report
from bench.kit_rpc import METADATA as BARE_METADATA
from bench.kit_rpc import SERVICE as BARE_SERVICE
from bench.kit_rpc import _free_port, _start

TOKEN = "bench-token"
METADATA = (("authorization", f"Bearer {TOKEN}"),)
ORG, CREDENTIAL = "bench-org", "bench-credential"


async def _serve_identity(port: int, database: Path) -> None:
    from services.identity.bootstrap import bootstrap
    from services.identity.domain.model import Credential, CredentialKind, CredentialSecrets, CredentialState
    from services.identity.domain.scopes import AccessMode, GrantType, Provider, Purpose
    from services.identity.settings import IdentitySettings

    log_like_a_service("identity")
    settings = IdentitySettings(
        port=port, http_port=_free_port(), database_url=f"sqlite+aiosqlite:///{database}", service_token=TOKEN,
        access_log=True, encryption_keys="bench:" + "b" * 43, directory_address="127.0.0.1:1",
    )  # fmt: skip
    app = await bootstrap(settings, background=False)
    now = datetime.now(UTC)
    credential = Credential(
        CREDENTIAL, ORG, Provider.MICROSOFT, Purpose.CALENDAR, AccessMode.FREE_BUSY, CredentialKind.USER_DELEGATED,
        GrantType.AUTHORIZATION_CODE, "tenant", "subject", "user@bench.example",
        ("openid", "email", "Calendars.ReadBasic.All"), ("openid", "email", "Calendars.ReadBasic.All"),
        CredentialState.ACTIVE, now, now, access_token_expire_time=now + timedelta(hours=1),
    )  # fmt: skip
    async with app.extras["uow"]() as uow:
        await uow.credentials.add(credential, CredentialSecrets("bench-access-token", "bench-refresh-token"))
        await uow.commit()
    await app.server.run()


async def _drive(address: str, seconds: float, concurrency: int, identity: bool) -> float:
    from rendezvous.identity.v1 import identity_service_pb2 as pb
    from rendezvous.identity.v1 import identity_service_pb2_grpc as pb_grpc

    async with grpc.aio.insecure_channel(address) as channel:
        if identity:
            stub = pb_grpc.IdentityServiceStub(channel)
            request = pb.GetAccessTokenRequest(org_unit_id=ORG, credential_id=CREDENTIAL)

            async def call() -> None:
                await stub.GetAccessToken(request, metadata=METADATA)

            first = await stub.GetAccessToken(request, metadata=METADATA, wait_for_ready=True, timeout=30)
            assert first.access_token == "bench-access-token"
        else:
            echo = channel.unary_unary(f"/{BARE_SERVICE}/Echo")

            async def call() -> None:
                await echo(b"x" * 64, metadata=BARE_METADATA)

            await echo(b"warm", metadata=BARE_METADATA, wait_for_ready=True, timeout=30)
        done = 0
        stop_at = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop_at:
                await call()
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - started)


def measure(seconds: float = 3.0, concurrency: int = 32, rounds: int = 3) -> dict[str, float]:
    """Best of ``rounds`` alternating runs against each server; calls per second."""
    with tempfile.TemporaryDirectory() as tmp:
        identity_port = _free_port()
        identity = subprocess.Popen([sys.executable, "-m", "bench.identity_tokens", "--serve", "--port",
                                     str(identity_port), "--database", str(Path(tmp) / "identity.db")],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        servers = {"bare": _start("bare"), "kit": _start("kit"), "identity": (identity, f"127.0.0.1:{identity_port}")}
        best = dict.fromkeys(servers, 0.0)
        try:
            for _ in range(rounds):
                for kind, (_, address) in servers.items():
                    rate = asyncio.run(_drive(address, seconds, concurrency, kind == "identity"))
                    best[kind] = max(best[kind], rate)
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait(20)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--database", type=Path)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve_identity(args.port, args.database))
        return
    best = measure(seconds=args.seconds)
    ratio = best["identity"] / best["bare"] * 100
    report("identity_tokens", "bare grpc.aio unary calls/s (baseline)", best["bare"], "calls/s", "baseline", True)
    report("identity_tokens", "kit echo unary calls/s (the kit's share)", best["kit"], "calls/s", "-", True)
    report("identity_tokens", "GetAccessToken, cached token, calls/s", best["identity"], "calls/s", "-", True)
    report("identity_tokens", "GetAccessToken / kit echo throughput", best["identity"] / best["kit"] * 100, "%", "-",
           True)  # fmt: skip
    report("identity_tokens", "GetAccessToken / bare throughput", ratio, "%", ">= 50 %", ratio >= 50)


if __name__ == "__main__":
    main()
