"""docker-compose.yml and the Dockerfile, checked without a Docker engine."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from scripts.check_containers import ROOT, check_compose, check_dockerfile, compose_binary
from scripts.devstack import COMPOSE_PORTS, COMPOSE_SANDBOX_URL, SERVICES, Stack


def test_the_compose_file_is_valid_for_docker_compose_v2():
    result = check_compose()
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def test_the_compose_validator_really_rejects_a_broken_file(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  a:\n    image: x\n    not_a_compose_key: 1\n")
    result = check_compose(broken)
    assert result.returncode != 0
    assert "not_a_compose_key" in result.stderr


def test_the_dockerfile_passes_hadolint():
    result = check_dockerfile()
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_really_flags_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\n")
    assert check_dockerfile(bad).returncode != 0


def test_the_topology_runs_every_service_from_one_image_on_postgres():
    out = subprocess.run(
        [str(compose_binary()), "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml"),
         "config", "--format", "json"],
        capture_output=True, text=True, check=True,
    )
    services = json.loads(out.stdout)["services"]
    assert {"identity", "directory", "availability", "booking", "postgres", "mailpit", "otel-collector",
            "jaeger", "sandbox"} <= set(services)
    for name in ("identity", "directory", "availability", "booking"):
        env = services[name]["environment"]
        assert env[f"RENDEZVOUS_{name.upper()}_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert services[name]["image"] == "rendezvous:local"
        assert services[name]["command"] == ["python", "-m", f"services.{name}"]
        assert "healthcheck" in services[name]


def _compose_services() -> dict[str, Any]:
    out = subprocess.run(
        [str(compose_binary()), "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml"),
         "config", "--format", "json"],
        capture_output=True, text=True, check=True,
    )
    services: dict[str, Any] = json.loads(out.stdout)["services"]
    return services


def _published(service: dict[str, Any]) -> set[int]:
    return {int(p["published"]) for p in service.get("ports", []) if int(p["published"]) == int(p["target"])}


def test_the_topology_publishes_what_the_compose_target_of_the_e2e_tests_talks_to():
    services = _compose_services()
    expected = Stack.compose(ROOT / "var", {})
    for name in SERVICES:
        assert expected.ports[name] in _published(services[name]), name
    assert expected.identity_http_port in _published(services["identity"])
    assert expected.inbound_smtp_port in _published(services["booking"])
    assert expected.sandbox_port in _published(services["sandbox"])
    assert {COMPOSE_PORTS["mailpit"], COMPOSE_PORTS["smtp"]} <= _published(services["mailpit"])
    env = {name: services[name]["environment"] for name in SERVICES}
    assert len({e["RENDEZVOUS_SERVICE_TOKEN"] for e in env.values()}) == 1
    assert env["identity"]["RENDEZVOUS_SERVICE_TOKEN"] == expected.token  # the default both sides use
    for name, e in env.items():
        assert e["RENDEZVOUS_SANDBOX_URL"] == COMPOSE_SANDBOX_URL, name
        assert (e["RENDEZVOUS_SMTP_HOST"], e["RENDEZVOUS_SMTP_PORT"]) == ("mailpit", "1025"), name
        for peer in SERVICES:  # every peer by its service name and gRPC port
            assert e[f"RENDEZVOUS_{peer.upper()}_ADDRESS"] == f"{peer}:{SERVICES[peer][0]}", (name, peer)
    assert env["identity"]["RENDEZVOUS_IDENTITY_HTTP_HOST"] == "0.0.0.0"
    assert env["booking"]["RENDEZVOUS_BOOKING_SMTP_HOST"] == "0.0.0.0"


def test_the_identity_public_url_is_a_redirect_uri_the_sandbox_has_registered():
    public_url = _compose_services()["identity"]["environment"]["RENDEZVOUS_IDENTITY_PUBLIC_URL"]
    assert public_url == Stack.compose(ROOT / "var", {}).identity_url
    command = _compose_services()["sandbox"]["command"]
    fixture_dir = command[command.index("--fixture-dir") + 1]
    assert "WORKDIR /app" in (ROOT / "Dockerfile").read_text() and fixture_dir.startswith("/app/")
    local = ROOT / fixture_dir.removeprefix("/app/")  # the image copies libs/ to /app/libs/
    assert local.is_dir()
    clients = [c for f in sorted(local.glob("*.json")) for c in json.loads(f.read_text()).get("clients", [])
               if "redirect_uris" in c]  # fmt: skip
    assert clients
    for client in clients:
        assert f"{public_url}/oauth/callback" in client["redirect_uris"], client["client_id"]
