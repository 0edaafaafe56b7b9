"""Directory next to the real identity service (both in-process, each on its own port and database):
organization-wide credentials made by identity's CreateServiceCredential drive real syncs, and
disconnecting revokes them at identity."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from rendezvous.common.v1 import common_pb2 as common
from rendezvous.directory.v1 import directory_resources_pb2 as res
from rendezvous.directory.v1 import directory_service_pb2 as pb
from rendezvous.identity.v1 import identity_resources_pb2 as ires
from rendezvous.identity.v1 import identity_service_pb2 as ipb
from rendezvous.identity.v1 import identity_service_pb2_grpc as ipb_grpc
from services.identity.bootstrap import bootstrap as identity_bootstrap
from services.identity.settings import IdentitySettings

from .conftest import AUTH

FIXTURES = Path(__file__).resolve().parents[3] / "libs" / "sandbox" / "fixtures" / "demo"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def real_identity(sandbox: Any, tmp_path: Path) -> AsyncIterator[tuple[str, ipb_grpc.IdentityServiceStub]]:
    http_port = _free_port()
    settings = IdentitySettings(
        port=0, http_port=http_port, public_url=f"http://127.0.0.1:{http_port}", access_log=False,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'identity.db'}", sandbox_url=sandbox.base_url,
        encryption_keys="k1:" + "a" * 43, provider_max_retries=0, smtp_port=_free_port(),
    )  # fmt: skip
    app = await identity_bootstrap(settings, background=False)
    port = await app.server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield f"127.0.0.1:{port}", ipb_grpc.IdentityServiceStub(channel)
    finally:
        await app.server.stop(grace=0)


async def test_service_credentials_from_identity_sync_google_and_successfactors_and_are_revoked_on_disconnect(
    start_directory, real_identity
):
    address, identity = real_identity
    directory = await start_directory(identity_address=address)
    unit = await directory.unit()
    key = json.loads((FIXTURES / "google.json").read_text())["service_accounts"][0]
    google = (await identity.CreateServiceCredential(ipb.CreateServiceCredentialRequest(
        org_unit_id=unit, provider=common.PROVIDER_GOOGLE, purpose=ires.PURPOSE_DIRECTORY,
        google_service_account=ipb.GoogleServiceAccount(service_account_key_json=json.dumps(key),
                                                       impersonated_admin_email="grace@northwind.example")),
        metadata=AUTH)).credential  # fmt: skip
    successfactors = (await identity.CreateServiceCredential(ipb.CreateServiceCredentialRequest(
        org_unit_id=unit, provider=common.PROVIDER_SUCCESSFACTORS, purpose=ires.PURPOSE_DIRECTORY,
        success_factors=ipb.SuccessFactorsGrant(api_server_url="https://api4.successfactors.example", company_id="FABRIKAM",
                                                client_id="rendezvous-sf-client", user_id="sfapi",
                                                private_key_pem="sandbox-sf-private-key-not-secret")),
        metadata=AUTH)).credential  # fmt: skip
    connections = {}
    for provider, credential, domain, api in (
        (common.PROVIDER_GOOGLE, google.id, "northwind.example", ""),
        (common.PROVIDER_SUCCESSFACTORS, successfactors.id, "fabrikam.example", "https://api4.successfactors.example"),
    ):
        done = await directory.call("ConnectDirectoryService", pb.ConnectDirectoryServiceRequest(
            org_unit_id=unit, provider=provider, credential_id=credential, domains=[domain], api_server_url=api))  # fmt: skip
        assert done.directory_connection.state == res.DirectoryConnection.STATE_ACTIVE
        run = await directory.sync(unit, done.directory_connection.id)
        assert (run.state, run.created_count > 0) == (res.SyncRun.STATE_SUCCEEDED, True), run.failure_message
        connections[domain] = done.directory_connection.id
    emails = {a.email for a in (await directory.accounts(unit)).values()}
    assert {"ada@northwind.example", "carla@fabrikam.example"} <= emails
    await directory.call("DisconnectDirectoryService", pb.DisconnectDirectoryServiceRequest(
        org_unit_id=unit, directory_connection_id=connections["northwind.example"]))  # fmt: skip
    revoked = (await identity.GetCredential(ipb.GetCredentialRequest(org_unit_id=unit, credential_id=google.id),
                                            metadata=AUTH)).credential  # fmt: skip
    assert revoked.state == ires.Credential.STATE_REVOKED


async def test_a_credential_of_another_purpose_at_identity_is_a_mismatch(start_directory, real_identity):
    address, identity = real_identity
    directory = await start_directory(identity_address=address)
    unit = await directory.unit()
    zoom = (await identity.CreateServiceCredential(ipb.CreateServiceCredentialRequest(
        org_unit_id=unit, provider=common.PROVIDER_ZOOM, purpose=ires.PURPOSE_CONFERENCING,
        zoom_server_to_server=ipb.ZoomServerToServer(account_id="zoom-acct-1", client_id="rendezvous-zoom-s2s",
                                                     client_secret="rendezvous-zoom-s2s-secret")), metadata=AUTH)).credential  # fmt: skip
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await directory.call("ConnectDirectoryService", pb.ConnectDirectoryServiceRequest(
            org_unit_id=unit, provider=common.PROVIDER_GOOGLE, credential_id=zoom.id, domains=["northwind.example"]))  # fmt: skip
    assert info.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    zoom_connection = await directory.call("ConnectConferencingService", pb.ConnectConferencingServiceRequest(
        org_unit_id=unit, service=common.CONFERENCING_SERVICE_ZOOM, credential_id=zoom.id))  # fmt: skip
    assert zoom_connection.conferencing_connection.state == res.ConferencingConnection.STATE_ACTIVE
