"""The local stack as processes: sandbox, mail sink and the four services on SQLite.

    make run                         # = python -m scripts.devstack

Waits until every service reports SERVING, prints addresses, the service token and grpcurl
commands, and stops every process cleanly on Ctrl-C (SIGINT) or SIGTERM. Data lives under
``var/`` (SQLite files in var/data, mail in var/mail, logs in var/log), so a second run finds
it intact. The e2e tests start the same stack on free ports through :class:`Stack`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kit.settings import DEV_SERVICE_TOKEN

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {  # name -> (default gRPC port, full gRPC service name)
    "identity": (50054, "rendezvous.identity.v1.IdentityService"),
    "directory": (50053, "rendezvous.directory.v1.DirectoryService"),
    "availability": (50051, "rendezvous.availability.v1.AvailabilityService"),
    "booking": (50052, "rendezvous.booking.v1.BookingService"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    """Ports and paths of one stack; ``start()`` launches it, ``stop()`` ends it."""

    var_dir: Path = ROOT / "var"
    token: str = DEV_SERVICE_TOKEN
    sandbox_port: int = 8060
    smtp_port: int = 1025
    identity_http_port: int = 8054
    inbound_smtp_port: int = 2525
    ports: dict[str, int] = field(default_factory=lambda: {n: p for n, (p, _) in SERVICES.items()})
    extra_env: dict[str, str] = field(default_factory=dict)
    database_urls: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @classmethod
    def on_free_ports(cls, var_dir: Path, **kw: object) -> Stack:
        return cls(
            var_dir=var_dir,
            sandbox_port=free_port(),
            smtp_port=free_port(),
            identity_http_port=free_port(),
            inbound_smtp_port=free_port(),
            ports={n: free_port() for n in SERVICES},
            **kw,  # type: ignore[arg-type]
        )

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    def address(self, service: str) -> str:
        return f"127.0.0.1:{self.ports[service]}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PYTHONPATH=f"{ROOT / 'libs'}{os.pathsep}{ROOT}",
            RENDEZVOUS_SERVICE_TOKEN=self.token,
            RENDEZVOUS_SANDBOX_URL=self.sandbox_url,
            RENDEZVOUS_SMTP_HOST="127.0.0.1",
            RENDEZVOUS_SMTP_PORT=str(self.smtp_port),
            RENDEZVOUS_IDENTITY_HTTP_PORT=str(self.identity_http_port),
            RENDEZVOUS_IDENTITY_PUBLIC_URL=f"http://127.0.0.1:{self.identity_http_port}",
            RENDEZVOUS_BOOKING_SMTP_PORT=str(self.inbound_smtp_port),
        )
        for name in SERVICES:
            env[f"RENDEZVOUS_{name.upper()}_PORT"] = str(self.ports[name])
            env[f"RENDEZVOUS_{name.upper()}_ADDRESS"] = self.address(name)
            env[f"RENDEZVOUS_{name.upper()}_DATABASE_URL"] = self.database_urls.get(
                name, f"sqlite+aiosqlite:///{self.var_dir / 'data' / (name + '.db')}"
            )
        env.update(self.extra_env)
        return env

    def _spawn(self, name: str, args: list[str]) -> None:
        log_dir = self.var_dir / "log"
        log_dir.mkdir(parents=True, exist_ok=True)
        with open(log_dir / f"{name}.log", "ab") as out:  # the child keeps its own copy of the descriptor
            self.procs[name] = subprocess.Popen(
                [sys.executable, *args], cwd=ROOT, env=self.env(), stdout=out, stderr=subprocess.STDOUT
            )

    def start(self) -> None:
        (self.var_dir / "data").mkdir(parents=True, exist_ok=True)
        fixtures = ROOT / "libs" / "sandbox" / "fixtures" / "demo"
        self._spawn(
            "sandbox",
            ["-m", "sandbox", "--host", "127.0.0.1", "--port", str(self.sandbox_port), "--fixture-dir", str(fixtures)],
        )
        self._spawn(
            "mailsink",
            ["-m", "scripts.mailsink", "--port", str(self.smtp_port), "--dir", str(self.var_dir / "mail")],
        )
        for name in SERVICES:
            self._spawn(name, ["-m", f"services.{name}"])

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the sandbox answers and every service's health check says SERVING."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as http:
            while True:
                self._check_alive()
                try:
                    if (await http.get(f"{self.sandbox_url}/_admin/health", timeout=1)).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError("the sandbox did not come up; see var/log/sandbox.log")
                await asyncio.sleep(0.2)
        for name, (_, service_name) in SERVICES.items():
            async with grpc.aio.insecure_channel(self.address(name)) as channel:
                stub = health_pb2_grpc.HealthStub(channel)
                while True:
                    self._check_alive()
                    try:
                        reply = await stub.Check(health_pb2.HealthCheckRequest(service=service_name), timeout=1)
                        if reply.status == health_pb2.HealthCheckResponse.SERVING:
                            break
                    except grpc.aio.AioRpcError:
                        pass
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{name} did not report SERVING; see {self.var_dir}/log/{name}.log")
                    await asyncio.sleep(0.2)

    def _check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.var_dir}/log/{name}.log")

    def stop(self, timeout: float = 30.0) -> dict[str, int | None]:
        """SIGTERM every process (services first), wait, and return their exit codes."""
        order = [*SERVICES, "mailsink", "sandbox"]
        for name in order:
            proc = self.procs.get(name)
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        deadline = time.monotonic() + timeout
        for name in order:
            proc = self.procs.get(name)
            if not proc:
                continue
            try:
                codes[name] = proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = proc.wait()
        return codes


def _banner(stack: Stack) -> str:
    grpcurl = ROOT / ".venv" / "bin" / "grpcurl"
    auth = f"-H 'authorization: Bearer {stack.token}'"
    lines = [
        "",
        "Rendezvous is running (Ctrl-C stops everything).",
        "",
        *(f"  {name:<13} grpc   {stack.address(name)}" for name in SERVICES),
        f"  {'identity':<13} http   http://127.0.0.1:{stack.identity_http_port}  (OAuth redirects, confirmation links)",
        f"  {'booking':<13} smtp   127.0.0.1:{stack.inbound_smtp_port}  (inbound replies)",
        f"  {'sandbox':<13} http   {stack.sandbox_url}  (provider emulators; admin API under /_admin)",
        f"  {'mail sink':<13} smtp   127.0.0.1:{stack.smtp_port}  -> {stack.var_dir / 'mail'}/*.eml",
        f"  data under {stack.var_dir}/data, logs under {stack.var_dir}/log",
        "",
        f"  service token: {stack.token}",
        "",
        "Try:",
        f"  {grpcurl} -plaintext {stack.address('directory')} list",
        f"  {grpcurl} -plaintext {stack.address('directory')} grpc.health.v1.Health/Check",
        f"  {grpcurl} -plaintext {auth} -d '{{\"display_name\": \"Acme\"}}' \\",
        f"      {stack.address('directory')} rendezvous.directory.v1.DirectoryService/CreateOrganizationalUnit",
        f"  {grpcurl} -plaintext {auth} {stack.address('directory')} rendezvous.directory.v1.DirectoryService/ListOrganizationalUnits",
        "",
    ]
    return "\n".join(lines)


async def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the local Rendezvous stack until Ctrl-C.")
    parser.add_argument("--var-dir", type=Path, default=ROOT / "var", help="data, mail and logs (default: var/)")
    parser.add_argument("--free-ports", action="store_true", help="pick free ports instead of the documented ones")
    args = parser.parse_args(argv)
    stack = Stack.on_free_ports(args.var_dir) if args.free_ports else Stack(var_dir=args.var_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stack.start()
    try:
        await stack.wait_ready()
        print(_banner(stack), flush=True)
        while not stop.is_set():
            stack._check_alive()
            try:
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            except TimeoutError:
                pass
    except (RuntimeError, TimeoutError) as exc:
        print(f"local stack failed: {exc}", file=sys.stderr)
        stack.stop()
        return 1
    print("stopping…", flush=True)
    codes = stack.stop()
    print("stopped: " + ", ".join(f"{n}={c}" for n, c in codes.items()), flush=True)
    return 0 if all(c == 0 for c in codes.values()) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(_main()))
