"""The README's walkthrough, run exactly as written: the shell blocks between
``<!-- walkthrough:start -->`` and ``<!-- walkthrough:end -->`` are joined and run by bash with the
real grpcurl and curl against a fresh local stack (on free ports: the blocks read the addresses from
the variables they document). Then the test checks what the sandbox, the mail sink and the services
hold afterwards — the walkthrough's claims, not only its exit code.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import uuid
from datetime import date
from pathlib import Path

import pytest

from rendezvous.booking.v1 import booking_resources_pb2 as bres
from rendezvous.booking.v1 import booking_service_pb2 as bk
from rendezvous.directory.v1 import directory_service_pb2 as dir_pb
from rendezvous_client import Addresses, Rendezvous
from sandbox.testing import SandboxAdmin
from scripts.demo_org import next_wednesday
from scripts.devstack import SERVICES, Stack

from .conftest import local_only
from .story import Inbox, Sandbox

pytestmark = [pytest.mark.e2e, local_only]

ROOT = Path(__file__).resolve().parents[2]
ADA, ALAN, ADELE, CARLA = ("ada@northwind.example", "alan@northwind.example", "adele@contoso.example",
                           "carla@fabrikam.example")  # fmt: skip
MEGAN, BEN = "megan@contoso.example", "ben@fabrikam.example"


def walkthrough_script(readme: str) -> str:
    """The walkthrough's shell blocks, in order, as one script."""
    section = re.search(r"<!-- walkthrough:start -->(.*?)<!-- walkthrough:end -->", readme, re.S)
    assert section, "README.md has no walkthrough section"
    blocks = re.findall(r"^```sh\n(.*?)^```$", section.group(1), re.S | re.M)
    assert len(blocks) >= 10, f"expected the walkthrough's steps, found {len(blocks)} shell blocks"
    return "\n".join(blocks)


def test_the_walkthrough_section_is_found_whole():
    script = walkthrough_script((ROOT / "README.md").read_text())
    for step in ("CreateOrganizationalUnit", "ConnectCalendarService", "ConnectDirectoryService",
                 "ConnectConferencingService", "SetAvailabilityRules", "QueryAvailability", "CreateBooking",
                 "IngestEmail", "UpdateBooking", "CancelBooking"):  # fmt: skip
        assert f"/{step} " in script or f"/{step}\n" in script, step


async def test_the_readme_walkthrough_runs_as_written_and_does_what_it_says(stack: Stack):
    assert shutil.which("curl"), "the walkthrough plays the browser with curl"
    run = uuid.uuid4().hex[:8]
    day = next_wednesday(date.today()).isoformat()  # the walkthrough's own default DAY
    env = {**os.environ, "RUN": run, "MAIL_DIR": str(stack.var_dir / "mail"), "RENDEZVOUS_SERVICE_TOKEN": stack.token,
           **{name.upper(): stack.address(name) for name in SERVICES}}  # fmt: skip
    env.pop("DAY", None)
    script = walkthrough_script((ROOT / "README.md").read_text())
    async with SandboxAdmin(stack.sandbox_url) as admin:
        sandbox = await Sandbox.from_now(admin)
        done = await asyncio.to_thread(
            subprocess.run, ["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=300)  # fmt: skip
        output = done.stdout + done.stderr
        assert done.returncode == 0, output[-4000:]
        # The refusals the walkthrough shows, and nothing else failed.
        assert "ROOMS_NOT_SUPPORTED_IN_MODE" in output and "SLOT_UNAVAILABLE" in output
        assert output.count("ERROR:") == 2, output[-4000:]
        assert '"method": "VERIFICATION_METHOD_DIRECTORY"' in output
        assert '"result": "RESULT_APPLIED"' in output
        assert '"available_periods"' in output

        async with Rendezvous(Addresses(**{n: stack.address(n) for n in SERVICES}), stack.token) as rdv:
            units = (await rdv.directory.ListOrganizationalUnits(
                dir_pb.ListOrganizationalUnitsRequest(page_size=1000))).organizational_units  # fmt: skip
            [unit] = [u for u in units if u.display_name == f"Walkthrough {run}"]
            calendars = (await rdv.directory.ListCalendarServices(
                dir_pb.ListCalendarServicesRequest(org_unit_id=unit.id))).calendar_connections  # fmt: skip
            assert sorted((list(c.domains)[0], c.state) for c in calendars) == [
                ("contoso.example", 2), ("fabrikam.example", 2), ("northwind.example", 2)]  # all ACTIVE
            bookings = {b.summary: b for b in (await rdv.booking.ListBookings(
                bk.ListBookingsRequest(org_unit_id=unit.id))).bookings}  # fmt: skip
        assert set(bookings) == {"Roadmap review", "Vendor sync", "Hiring plan"}
        assert all(b.state == bres.Booking.STATE_CANCELLED for b in bookings.values())
        roadmap, vendor, hiring = bookings["Roadmap review"], bookings["Vendor sync"], bookings["Hiring plan"]

        # Read Write: Google created, patched and deleted the event in Ada's calendar, with Meet and Vega.
        [insert] = await sandbox.requests("google.events.insert")
        assert insert["path"].endswith(f"/calendars/{ADA}/events") and insert["query"]["sendUpdates"] == "all"
        assert {a["email"] for a in insert["json"]["attendees"]} == {ALAN, MEGAN, "room-vega@contoso.example"}
        event_id = roadmap.delivery.provider_event_id
        [patch] = await sandbox.requests("google.events.patch")
        [delete] = await sandbox.requests("google.events.delete")
        assert patch["path"].endswith(event_id) and patch["json"]["start"]["dateTime"].startswith(f"{day}T14:30:00")
        assert delete["path"].endswith(event_id) and delete["status"] == 204
        # Free/Busy with Zoom: the meeting was made for Adele and deleted with the booking.
        assert len(await sandbox.requests("zoom.meetings.create")) == 1
        meeting = (await sandbox.zoom_meetings())[vendor.conferencing.meeting_id]["meeting"]
        assert meeting["host_email"] == ADELE and meeting["join_url"] == vendor.conferencing.join_url
        [zoom_delete] = await sandbox.requests("zoom.meetings.delete")
        assert zoom_delete["path"].endswith(f"/meetings/{vendor.conferencing.meeting_id}")

    # The mail sink: invites, the organizer's update after Ada's REPLY, the moved and cancelled versions.
    inbox = Inbox(stack.mail())
    uid = vendor.delivery.ical_uid
    # SEQUENCE 0: the three invites, then the organizer's update after Ada's REPLY.
    first = await inbox.wait(lambda m: m.uid == uid and m.method == "REQUEST" and m.sequence == 0, 4,
                             f"REQUEST of {uid} SEQUENCE 0")  # fmt: skip
    assert sorted(r for m in first for r in m.recipients) == sorted([ADELE, ADELE, ADA, CARLA])
    assert [m.partstats()[ADA] for m in first if ADELE in m.recipients] == ["NEEDS-ACTION", "ACCEPTED"]
    moved = await inbox.invites(uid, "REQUEST", 3, sequence=1)
    assert {i.start.isoformat() for i in moved.values()} == {f"{day}T14:30:00+00:00"}
    assert set(await inbox.invites(uid, "CANCEL", 3, sequence=2)) == {ADELE, ADA, CARLA}
    assert set(await inbox.invites(hiring.delivery.ical_uid, "REQUEST", 3)) == {CARLA, MEGAN, BEN}
    assert set(await inbox.invites(hiring.delivery.ical_uid, "CANCEL", 3, sequence=1)) == {CARLA, MEGAN, BEN}
    assert not [m for m in await inbox.all() if ALAN in m.recipients]  # Google's to tell, not ours
