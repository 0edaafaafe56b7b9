"""Google Meet REST API v2: meeting spaces."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from providers._base import ProviderClient
from providers._parse import opt_str, req_str
from providers.endpoints import ProviderEndpoints
from providers.error_bodies import google_error
from providers.http import ProviderHttp


@dataclass(frozen=True)
class MeetSpace:
    """A Meet space; ``name`` is its stable id (``meeting_code`` can be recycled after a year)."""

    name: str
    meeting_uri: str
    meeting_code: str | None
    raw: Mapping[str, Any] = field(repr=False)


class GoogleMeet(ProviderClient):
    """Meet spaces created with the organizer's token."""

    provider = "google"

    def __init__(self, http: ProviderHttp, endpoints: ProviderEndpoints) -> None:
        super().__init__(http, google_error)
        self._base = endpoints.google_meet

    async def create_space(self, token: str, *, access_type: str | None = None) -> MeetSpace:
        """A new meeting space (``OPEN``, ``TRUSTED`` or ``RESTRICTED`` when ``access_type`` is given).

        Not retried on 5xx: a retry could create a second space.
        """
        body: dict[str, Any] = {"config": {"accessType": access_type}} if access_type else {}
        answer = await self._json("POST", f"{self._base}/spaces", token=token, json_body=body)
        return MeetSpace(
            name=req_str(self.provider, answer, "name"),
            meeting_uri=req_str(self.provider, answer, "meetingUri"),
            meeting_code=opt_str(answer, "meetingCode"),
            raw=answer,
        )
