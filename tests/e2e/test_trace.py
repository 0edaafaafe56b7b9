"""One OpenTelemetry trace per booking: booking → identity, directory, availability → provider HTTP
and the databases, read from an in-memory exporter and checked by walking each span's parent chain.

The four services run in one process (``trace_booking.py``, started as a subprocess so the rest of
the suite stays untraced). They share one tracer provider, hence one ``service.name``; the kit's
server interceptor writes ``rendezvous.service`` on every server span, and a span belongs to the
service of its nearest server span (itself included). Independent of ``RENDEZVOUS_TARGET``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from sqlalchemy.engine import make_url

from scripts.devstack import SERVICES

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_ENV = "RENDEZVOUS_TEST_POSTGRES_URL"
Span = dict[str, Any]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def traced(request, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """The probe's output: the booking and every span it caused (on SQLite files, and on fresh
    PostgreSQL databases when RENDEZVOUS_TEST_POSTGRES_URL is set)."""
    base = os.environ.get(POSTGRES_ENV, "")
    if request.param == "postgres" and not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    names = {n: f"rdv_trace_{uuid.uuid4().hex[:10]}_{n}" for n in SERVICES} if request.param == "postgres" else {}
    admin = _admin(base) if names else None
    try:
        urls = {}
        for service, name in names.items():
            assert admin is not None
            with admin.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
            urls[service] = make_url(base).set(drivername="postgresql+asyncpg", database=name).render_as_string(False)
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env["PYTHONPATH"] = f"{ROOT / 'libs'}{os.pathsep}{ROOT}"
        out = subprocess.run(
            [sys.executable, "-m", "tests.e2e.trace_booking", str(tmp_path_factory.mktemp("trace")), json.dumps(urls)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-4000:]
        result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        yield result
    finally:
        if admin is not None:
            with admin.cursor() as cur:
                for name in names.values():
                    cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()


def _admin(url: str) -> Any:
    u = make_url(url)
    connection = psycopg2.connect(host=u.host or "127.0.0.1", port=u.port or 5432, user=u.username or "postgres",
                                  password=u.password or None, dbname=u.database or "postgres")  # fmt: skip
    connection.autocommit = True
    return connection


class Tree:
    def __init__(self, spans: list[Span]) -> None:
        self.spans = spans
        self.by_id = {s["span_id"]: s for s in spans}

    def parent(self, span: Span) -> Span | None:
        return self.by_id.get(span["parent"]) if span["parent"] else None

    def chain(self, span: Span) -> list[Span]:
        """The span and its ancestors up to the root, following ``parent`` one step at a time."""
        found = [span]
        while found[-1]["parent"] is not None:
            parent = self.parent(found[-1])
            assert parent is not None, f"{found[-1]['name']} has a parent that was not recorded: the trace is broken"
            found.append(parent)
        return found

    def children(self, span: Span) -> list[Span]:
        return [s for s in self.spans if s["parent"] == span["span_id"]]

    def server_of(self, span: Span) -> Span:
        """The nearest SERVER span at or above ``span``: whose service did this."""
        return next(s for s in self.chain(span) if s["kind"] == "SERVER")

    def service_of(self, span: Span) -> str:
        return str(self.server_of(span)["attributes"]["rendezvous.service"])

    def calls(self, caller: Span, method: str) -> list[Span]:
        """gRPC client spans of ``method`` (``Service/Method``) made while ``caller`` (a server span) served."""
        return [s for s in self.spans if s["kind"] == "CLIENT" and s["name"].endswith(f".{method}")
                and s["attributes"].get("rpc.system") == "grpc" and self.server_of(s) is caller]  # fmt: skip

    def served(self, client: Span) -> Span:
        """The one server span answering ``client``."""
        servers = [s for s in self.children(client) if s["kind"] == "SERVER"]
        assert len(servers) == 1, (client["name"], servers)
        assert servers[0]["name"] == client["name"]
        return servers[0]

    def http(self, caller: Span) -> list[Span]:
        return [s for s in self.spans if "http.url" in s["attributes"] and self.server_of(s) is caller]

    def sql(self, caller: Span) -> list[Span]:
        return [s for s in self.spans if "db.statement" in s["attributes"] and self.server_of(s) is caller]


def test_the_booking_is_delivered_as_a_native_google_event_while_traced(traced):
    booking = traced["booking"]
    assert booking["delivery_state"] == "STATE_DELIVERED"
    assert booking["provider_event_id"]
    assert booking["join_url"].startswith("https://meet.google.com/")


def test_every_span_of_the_booking_is_in_one_trace_under_the_tests_client_span(traced):
    tree = Tree(traced["spans"])
    roots = [s for s in tree.spans if s["parent"] is None]
    assert [r["name"] for r in roots] == ["e2e: CreateBooking"]
    root = roots[0]
    assert {s["trace_id"] for s in tree.spans} == {root["trace_id"]}
    for span in tree.spans:
        assert tree.chain(span)[-1] is root  # nothing detached: every span walks up to the test's span
    (client,) = tree.children(root)
    assert (client["kind"], client["name"]) == ("CLIENT", "/rendezvous.booking.v1.BookingService/CreateBooking")
    server = tree.served(client)
    assert server["attributes"]["rendezvous.service"] == "booking"
    assert server["remote_parent"] is True  # reached through gRPC metadata, not an in-process shortcut
    assert len(tree.spans) > 20


def test_each_server_span_names_the_service_whose_grpc_contract_it_serves(traced):
    servers = [s for s in traced["spans"] if s["kind"] == "SERVER"]
    assert {s["attributes"]["rendezvous.service"] for s in servers} == {"booking", "identity", "directory", "availability"}
    for server in servers:
        name = server["attributes"]["rendezvous.service"]
        assert server["attributes"]["rpc.service"] == f"rendezvous.{name}.v1.{name.capitalize()}Service"


def test_booking_calls_identity_directory_and_availability_and_each_call_is_served_by_that_service(traced):
    tree = Tree(traced["spans"])
    create = next(s for s in tree.spans if s["kind"] == "SERVER" and s["name"].endswith("/CreateBooking"))
    expected = {
        "IdentityService/VerifyOrganizer": "identity",
        "IdentityService/GetAccessToken": "identity",
        "DirectoryService/ResolveAccount": "directory",
        "DirectoryService/GetOrganizationalUnit": "directory",
        "AvailabilityService/GetFreeBusy": "availability",
    }
    for method, service in expected.items():
        calls = tree.calls(create, method)
        assert calls, f"booking made no {method} call"
        for call in calls:
            assert tree.service_of(call) == "booking"
            assert tree.served(call)["attributes"]["rendezvous.service"] == service


def test_availability_asks_directory_identity_booking_and_google_inside_the_booking(traced):
    tree = Tree(traced["spans"])
    create = next(s for s in tree.spans if s["kind"] == "SERVER" and s["name"].endswith("/CreateBooking"))
    (free_busy_call,) = tree.calls(create, "AvailabilityService/GetFreeBusy")
    availability = tree.served(free_busy_call)
    for method, service in {"DirectoryService/ResolveAccount": "directory", "IdentityService/GetAccessToken": "identity",
                            "BookingService/ListBusyPeriods": "booking"}.items():  # fmt: skip
        (call,) = tree.calls(availability, method)
        assert tree.served(call)["attributes"]["rendezvous.service"] == service
    (free_busy,) = tree.http(availability)
    assert free_busy["attributes"]["http.method"] == "POST"
    assert free_busy["attributes"]["http.url"].endswith("/www.googleapis.com/calendar/v3/freeBusy")
    assert free_busy["attributes"]["http.status_code"] == 200
    chain = tree.chain(free_busy)
    assert availability in chain and create in chain  # the provider call descends from the booking


def test_bookings_own_provider_call_creates_the_event_under_create_booking(traced):
    tree = Tree(traced["spans"])
    create = next(s for s in tree.spans if s["kind"] == "SERVER" and s["name"].endswith("/CreateBooking"))
    (insert,) = tree.http(create)
    assert insert["attributes"]["http.method"] == "POST"
    assert "/www.googleapis.com/calendar/v3/calendars/ada@northwind.example/events?" in insert["attributes"]["http.url"]
    assert insert["attributes"]["http.status_code"] == 200
    assert tree.parent(insert) is create


def test_each_services_sql_statements_are_traced_under_its_own_server_spans(traced):
    tree = Tree(traced["spans"])
    for service in ("booking", "identity", "directory", "availability"):
        servers = [s for s in tree.spans if s["kind"] == "SERVER" and s["attributes"]["rendezvous.service"] == service]
        statements = [q for server in servers for q in tree.sql(server)]
        assert statements, f"no SQL traced under {service}"
        # each service's statements go to its own database
        assert {q["attributes"]["db.name"] for q in statements} == {traced["databases"][service]}
        assert {q["attributes"]["db.system"] for q in statements} <= {"sqlite", "postgresql"}
    create = next(s for s in tree.spans if s["kind"] == "SERVER" and s["name"].endswith("/CreateBooking"))
    inserts = [q for q in tree.sql(create) if q["attributes"]["db.statement"].lstrip().upper().startswith("INSERT")]
    assert inserts  # the booking itself was written inside the trace
