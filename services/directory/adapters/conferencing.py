"""The ``ConferencingDirectory`` port over the provider clients: who a conferencing service's user
with an email is (Zoom ``GET /users/{email}``, Webex ``GET /people?email=``, Graph ``/users/{email}``
for Teams). Google Meet needs no call (see the resolve use case)."""

from __future__ import annotations

from kit.errors import Unavailable
from kit.tokens import with_replaced_token
from providers import Providers
from providers.errors import ProviderAuthError, ProviderError, ProviderNotFound
from services.directory.adapters.graph_extra import PagedGraphDirectory
from services.directory.domain.model import ConferencingConnection, ConferencingService
from services.directory.ports import TokenSource


class ProviderConferencingDirectory:
    def __init__(self, providers: Providers, graph: PagedGraphDirectory) -> None:
        self._providers = providers
        self._graph = graph

    async def find_user(self, connection: ConferencingConnection, email: str, token: TokenSource) -> str | None:
        if connection.service is ConferencingService.GOOGLE_MEET:
            return None
        try:
            return await with_replaced_token(token, lambda access: self._find(connection, email, access), ProviderAuthError)
        except ProviderError as error:
            raise Unavailable(f"{connection.service.value} could not be asked: {error}",
                              reason="PROVIDER_UNAVAILABLE") from error  # fmt: skip

    async def _find(self, connection: ConferencingConnection, email: str, access: str) -> str | None:
        if connection.service is ConferencingService.ZOOM:
            try:
                return (await self._providers.zoom.get_user(access, email)).id
            except ProviderNotFound:
                return None
        if connection.service is ConferencingService.WEBEX:
            person = await self._providers.webex.find_person(access, email)
            return person.id if person else None
        return await self._graph.user_id(access, email)
