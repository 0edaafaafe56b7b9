"""OpenTelemetry across a gRPC call (the server span is a child of the client span, in one trace, and
names the serving service), and the httpx and SQLAlchemy instrumentation the kit installs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from kit.telemetry import tracing_enabled

ROOT = Path(__file__).resolve().parents[3]


def test_tracing_is_off_unless_the_otel_variables_ask_for_it():
    assert not tracing_enabled({})
    assert not tracing_enabled({"OTEL_TRACES_EXPORTER": "none"})
    assert tracing_enabled({"OTEL_TRACES_EXPORTER": "otlp"})
    assert not tracing_enabled({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"})


def test_a_call_through_a_peer_channel_makes_one_trace_with_server_under_client():
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'libs'}{os.pathsep}{ROOT}")
    out = subprocess.run([sys.executable, str(Path(__file__).with_name("trace_probe.py"))],
                         env=env, capture_output=True, text=True, timeout=60, check=True)
    spans = json.loads(out.stdout.strip().splitlines()[-1])
    by_kind = {s["kind"]: s for s in spans}
    caller = next(s for s in spans if s["name"] == "caller")
    client, server = by_kind["CLIENT"], by_kind["SERVER"]
    assert client["name"] == server["name"] == "/rendezvous.test.v1.EchoService/Echo"
    assert {caller["trace_id"], client["trace_id"], server["trace_id"]} == {caller["trace_id"]}
    assert client["parent"] == caller["span_id"]
    assert server["parent"] == client["span_id"]
    assert server["attributes"]["rendezvous.service"] == "echo"


def test_httpx_clients_made_before_tracing_and_every_kit_engine_are_traced():
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'libs'}{os.pathsep}{ROOT}")
    out = subprocess.run([sys.executable, str(Path(__file__).with_name("trace_libraries_probe.py"))],
                         env=env, capture_output=True, text=True, timeout=60, check=True)
    spans = json.loads(out.stdout.strip().splitlines()[-1])
    http = [s for s in spans if "http.url" in s["attributes"]]
    assert [(s["kind"], s["attributes"]["http.url"].rsplit("/", 1)[-1]) for s in http] == [("CLIENT", "ping")]
    statements = [s["attributes"]["db.statement"] for s in spans if s["attributes"].get("db.system") == "sqlite"]
    assert statements == ["SELECT 'first'", "SELECT 'second'"]  # the second engine too, on SQLAlchemy 2.1
