"""docker-compose.yml and the Dockerfile, checked without a Docker engine."""

from __future__ import annotations

import json
import subprocess

from scripts.check_containers import ROOT, check_compose, check_dockerfile, compose_binary


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
