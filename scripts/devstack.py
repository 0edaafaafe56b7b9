"""The local stack as processes: sandbox, mail sink and the four services on SQLite.

    make run                         # = python -m scripts.devstack

Waits until every service reports SERVING, seeds the demo organization (a Google READ_WRITE, a
Microsoft FREE_BUSY and a NO_ACCESS domain, SuccessFactors and Graph directories, Zoom; found again,
not duplicated, on a second run; ``--no-demo`` skips it), prints addresses, the service token, the
demo's org unit id and grpcurl commands against it, and stops every process cleanly on Ctrl-C
(SIGINT) or SIGTERM. Data lives under ``var/`` (SQLite files in var/data, mail in var/mail, logs in
var/log, the tokens the sandbox issued in var/sandbox), so a second run finds it intact. The e2e
tests start the same stack on free ports through :class:`Stack`.

``RENDEZVOUS_TARGET`` picks what the e2e tests drive (:func:`target`, :meth:`Stack.for_target`):

* ``local`` (default): this stack, started as processes on free ports for the tests;
* ``compose``: the topology ``docker compose up`` already runs, on its published ports (services
  50051–50054, identity HTTP 8054, sandbox 8060, booking SMTP 2525, Mailpit 8025 for reading mail).
  Nothing is started or stopped; the tests only talk to it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kit.settings import DEV_SERVICE_TOKEN
from rendezvous_client import Addresses, Rendezvous
from scripts import demo_org
from scripts.demo_org import DemoOrg
from scripts.mail_reader import EmlDirectory, MailpitApi, MailReader

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {  # name -> (default gRPC port, full gRPC service name)
    "identity": (50054, "rendezvous.identity.v1.IdentityService"),
    "directory": (50053, "rendezvous.directory.v1.DirectoryService"),
    "availability": (50051, "rendezvous.availability.v1.AvailabilityService"),
    "booking": (50052, "rendezvous.booking.v1.BookingService"),
}


TARGET_ENV = "RENDEZVOUS_TARGET"
TARGETS = ("local", "compose")
#: Published ports of docker-compose.yml (the compose target).
COMPOSE_PORTS = {"identity_http": 8054, "sandbox": 8060, "inbound_smtp": 2525, "smtp": 1025, "mailpit": 8025}
#: Where the services inside compose reach the sandbox; URLs they hand out for a browser name it.
COMPOSE_SANDBOX_URL = "http://sandbox:8060"


def target(environ: Mapping[str, str] | None = None) -> str:
    """``local`` or ``compose``, from ``RENDEZVOUS_TARGET`` (default ``local``)."""
    value = (os.environ if environ is None else environ).get(TARGET_ENV, "").strip().lower() or "local"
    if value not in TARGETS:
        raise ValueError(f"{TARGET_ENV}={value!r}: expected one of {', '.join(TARGETS)}")
    return value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    """Ports and paths of one stack; ``start()`` launches it, ``stop()`` ends it.

    A ``compose`` stack (:meth:`compose`) describes the containers' published ports instead:
    ``start()`` and ``stop()`` do nothing there, mail is read from Mailpit's API.
    """

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
    target: str = "local"
    mailpit_url: str = ""
    internal_sandbox_url: str = ""

    @classmethod
    def for_target(cls, var_dir: Path, environ: Mapping[str, str] | None = None) -> Stack:
        """What ``RENDEZVOUS_TARGET`` asks for: a local stack on free ports, or the compose one."""
        if target(environ) == "compose":
            return cls.compose(var_dir, environ)
        return cls.on_free_ports(var_dir)

    @classmethod
    def compose(cls, var_dir: Path = ROOT / "var", environ: Mapping[str, str] | None = None, **kw: object) -> Stack:
        """The running ``docker compose`` topology on its published ports (``kw`` overrides them)."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {
            "var_dir": var_dir,
            "token": env.get("RENDEZVOUS_SERVICE_TOKEN") or DEV_SERVICE_TOKEN,
            "sandbox_port": COMPOSE_PORTS["sandbox"],
            "smtp_port": COMPOSE_PORTS["smtp"],
            "identity_http_port": COMPOSE_PORTS["identity_http"],
            "inbound_smtp_port": COMPOSE_PORTS["inbound_smtp"],
            "ports": {n: p for n, (p, _) in SERVICES.items()},
            "target": "compose",
            "mailpit_url": f"http://127.0.0.1:{COMPOSE_PORTS['mailpit']}",
            "internal_sandbox_url": COMPOSE_SANDBOX_URL,
        }
        values.update(kw)
        return cls(**values)  # type: ignore[arg-type]

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

    @property
    def identity_url(self) -> str:
        """Identity's public HTTP base URL (OAuth callback, confirmation links)."""
        return f"http://127.0.0.1:{self.identity_http_port}"

    def address(self, service: str) -> str:
        return f"127.0.0.1:{self.ports[service]}"

    def mail(self) -> MailReader:
        """The mail the stack sent: the sink's .eml directory, or Mailpit's API under compose."""
        if self.target == "compose":
            return MailpitApi(self.mailpit_url)
        return EmlDirectory(self.var_dir / "mail")

    def browser_url(self, url: str) -> str:
        """``url`` as a browser on this machine opens it.

        Inside compose the services reach the sandbox as ``http://sandbox:8060``, so the provider
        authorization URLs they hand out name that host; from here it is the published port.
        """
        if self.internal_sandbox_url and url.startswith(self.internal_sandbox_url + "/"):
            return self.sandbox_url + url[len(self.internal_sandbox_url):]
        return url

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PYTHONPATH=f"{ROOT / 'libs'}{os.pathsep}{ROOT}",
            RENDEZVOUS_SERVICE_TOKEN=self.token,
            RENDEZVOUS_SANDBOX_URL=self.sandbox_url,
            RENDEZVOUS_SMTP_HOST="127.0.0.1",
            RENDEZVOUS_SMTP_PORT=str(self.smtp_port),
            RENDEZVOUS_IDENTITY_HTTP_PORT=str(self.identity_http_port),
            RENDEZVOUS_IDENTITY_PUBLIC_URL=self.identity_url,
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
                [sys.executable, *args], cwd=ROOT, env=self.env(), stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches only this supervisor, which stops the children in order
            )

    def start(self) -> None:
        if self.target == "compose":
            return  # `docker compose up` runs it; the tests only talk to it
        (self.var_dir / "data").mkdir(parents=True, exist_ok=True)
        fixtures = ROOT / "libs" / "sandbox" / "fixtures" / "demo"
        self._spawn(
            "sandbox",
            ["-m", "sandbox", "--host", "127.0.0.1", "--port", str(self.sandbox_port), "--fixture-dir", str(fixtures),
             # identity keeps the tokens it stored: the restarted sandbox must still honour them
             "--token-file", str(self.var_dir / "sandbox" / "tokens.json")],
        )
        self._spawn(
            "mailsink",
            ["-m", "scripts.mailsink", "--port", str(self.smtp_port), "--dir", str(self.var_dir / "mail")],
        )
        for name in SERVICES:
            self._spawn(name, ["-m", f"services.{name}"])

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the sandbox (and Mailpit, under compose) answers and every service's health check says SERVING."""
        deadline = time.monotonic() + timeout
        http_checks = {"sandbox": f"{self.sandbox_url}/_admin/health"}
        if self.mailpit_url:
            http_checks["mailpit"] = f"{self.mailpit_url}/api/v1/messages?limit=1"
        async with httpx.AsyncClient() as http:
            for name, url in http_checks.items():
                while True:
                    self._check_alive()
                    try:
                        if (await http.get(url, timeout=1)).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"the {name} did not come up; see {self._log_hint(name)}")
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
                        raise TimeoutError(f"{name} did not report SERVING; see {self._log_hint(name)}")
                    await asyncio.sleep(0.2)

    def _log_hint(self, name: str) -> str:
        if self.target == "compose":
            return f"`docker compose logs {name}` (is `make compose-up` running?)"
        return f"{self.var_dir}/log/{name}.log"

    def _check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.var_dir}/log/{name}.log")

    def stop(self, timeout: float = 30.0) -> dict[str, int | None]:
        """SIGTERM every process (services first), wait, and return their exit codes ({} for compose)."""
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


def _banner(stack: Stack, demo: DemoOrg | None = None) -> str:
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
        *(_demo_lines(stack, demo, str(grpcurl)) if demo else []),
        "Try:",
        f"  {grpcurl} -plaintext {stack.address('directory')} list",
        f"  {grpcurl} -plaintext {stack.address('directory')} grpc.health.v1.Health/Check",
        f"  {grpcurl} -plaintext {auth} -d '{{\"display_name\": \"Acme\"}}' \\",
        f"      {stack.address('directory')} rendezvous.directory.v1.DirectoryService/CreateOrganizationalUnit",
        f"  {grpcurl} -plaintext {auth} {stack.address('directory')} rendezvous.directory.v1.DirectoryService/ListOrganizationalUnits",
        "",
    ]
    return "\n".join(lines)


def _demo_lines(stack: Stack, demo: DemoOrg, grpcurl: str) -> list[str]:
    """The seeded demo organization and calls to paste against it."""
    lines = [
        f"Demo organization {demo_org.UNIT_NAME!r}: org_unit_id {demo.org_unit_id}",
        f"  {demo_org.GOOGLE_DOMAIN} Google READ_WRITE, {demo_org.MICROSOFT_DOMAIN} Microsoft FREE_BUSY, "
        f"{demo_org.NO_ACCESS_DOMAIN} NO_ACCESS (SuccessFactors directory), Zoom",
        "",
    ]
    for title, service, method, body in demo_org.demo_calls(demo.org_unit_id, demo_org.next_wednesday(date.today())):
        argv = demo_org.grpcurl_command(grpcurl, stack.address(service), stack.token, method, body)
        lines += [f"  # {title}", f"  {shlex.join(argv)}", ""]
    return lines


async def seed_demo(stack: Stack, log: Callable[[str], None] = lambda _: None) -> DemoOrg:
    """The demo organization on ``stack`` (found or made; see scripts/demo_org.py)."""
    addresses = Addresses(**{name: stack.address(name) for name in SERVICES})
    async with Rendezvous(addresses, stack.token) as rdv:
        return await demo_org.seed_demo(rdv, demo_org.Browser(stack.browser_url), log)


async def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the local Rendezvous stack until Ctrl-C.")
    parser.add_argument("--var-dir", type=Path, default=ROOT / "var", help="data, mail and logs (default: var/)")
    parser.add_argument("--free-ports", action="store_true", help="pick free ports instead of the documented ones")
    parser.add_argument("--demo", action=argparse.BooleanOptionalAction, default=True,
                        help="seed the demo organization and print calls to try against it (default: on)")
    args = parser.parse_args(argv)
    stack = Stack.on_free_ports(args.var_dir) if args.free_ports else Stack(var_dir=args.var_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stack.start()
    try:
        await stack.wait_ready()
        demo = None
        if args.demo:
            try:
                demo = await seed_demo(stack, lambda line: print(f"demo: {line}", flush=True))
            except Exception as exc:  # the stack stays useful without the demo: say why and go on
                print(f"the demo organization could not be seeded: {exc}", file=sys.stderr, flush=True)
        print(_banner(stack, demo), flush=True)
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
