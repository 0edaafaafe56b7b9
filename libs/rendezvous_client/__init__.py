"""A Python client for the platform services that call Rendezvous.

    from rendezvous_client import Rendezvous, RendezvousError
    from rendezvous.directory.v1 import directory_service_pb2 as directory

    async with Rendezvous.from_env() as rdv:          # or Rendezvous(Addresses(...), token=...)
        unit = await rdv.directory.CreateOrganizationalUnit(
            directory.CreateOrganizationalUnitRequest(display_name="Acme", request_id="acme-1"))

Every call carries the service token and a deadline; idempotent calls (reads, and creates that
carry a ``request_id``) are retried on UNAVAILABLE / DEADLINE_EXCEEDED with backoff; failures
raise :class:`RendezvousError` with the ``google.rpc`` details unpacked (reason, domain,
metadata, field violations).
"""

from rendezvous_client.client import Addresses, Rendezvous
from rendezvous_client.errors import FieldViolation, RendezvousError

__all__ = ["Addresses", "FieldViolation", "Rendezvous", "RendezvousError"]
