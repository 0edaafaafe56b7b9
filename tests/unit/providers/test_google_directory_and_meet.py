"""Google Admin Directory (users page by page, domains) and Meet spaces."""

from __future__ import annotations

import pytest

from providers import ProviderPermissionError, ProviderUnavailable
from providers.google import GoogleDirectory, GoogleMeet

ADMIN = "https://admin.googleapis.com/admin/directory/v1"


@pytest.fixture
def directory(http, endpoints):
    return GoogleDirectory(http, endpoints)


def user(uid, email, **extra):
    return {
        "kind": "admin#directory#user",
        "id": uid,
        "primaryEmail": email,
        "name": {"fullName": email},
        **extra,
    }


async def test_iter_users_yields_each_page_and_follows_page_tokens(directory, upstream):
    upstream.reply(200, {"users": [user("1", "ada@northwind.example", isAdmin=True)], "nextPageToken": "t2"})
    upstream.reply(200, {"users": [user("2", "alan@northwind.example", suspended=True, archived=False)]})

    pages = [page async for page in directory.iter_users("tok")]

    assert upstream.url(0) == f"{ADMIN}/users"
    assert upstream.query(0) == {"maxResults": "500", "customer": "my_customer"}
    assert upstream.query(1) == {"maxResults": "500", "customer": "my_customer", "pageToken": "t2"}
    assert upstream.requests[0].headers["authorization"] == "Bearer tok"
    assert [(p.number, p.cursor, p.next_cursor, p.last) for p in pages] == [
        (1, None, "t2", False),
        (2, "t2", None, True),
    ]
    ada, alan = pages[0].items[0], pages[1].items[0]
    assert (ada.id, ada.primary_email, ada.is_admin, ada.suspended) == (
        "1",
        "ada@northwind.example",
        True,
        False,
    )
    assert (alan.suspended, alan.archived, alan.full_name) == (True, False, "alan@northwind.example")


async def test_iter_users_by_domain_with_a_query_and_stopping_early(directory, upstream):
    upstream.reply(200, {"users": [user("1", "a@nw.example")], "nextPageToken": "t2"})

    async for page in directory.iter_users(
        "tok", domain="nw.example", page_size=1000, query="isSuspended=false"
    ):
        stopped_at = page.next_cursor
        break

    assert upstream.query() == {"maxResults": "500", "domain": "nw.example", "query": "isSuspended=false"}
    assert stopped_at == "t2" and len(upstream.requests) == 1


async def test_iter_users_resumes_at_a_cursor(directory, upstream):
    upstream.reply(200, {"users": []})

    pages = [p async for p in directory.iter_users("tok", cursor="t7")]

    assert upstream.query()["pageToken"] == "t7"
    assert pages[0].cursor == "t7" and pages[0].items == ()


async def test_iter_users_needs_customer_or_domain_not_both(directory):
    with pytest.raises(ValueError):
        async for _ in directory.iter_users("tok", customer="C01", domain="x"):
            pass


async def test_a_non_admin_is_refused_with_a_permission_error(directory, upstream):
    upstream.reply(
        403,
        {
            "error": {
                "errors": [{"domain": "global", "reason": "forbidden"}],
                "code": 403,
                "message": "Not Authorized to access this resource/api",
            }
        },
    )

    with pytest.raises(ProviderPermissionError):
        async for _ in directory.iter_users("tok"):
            pass


async def test_list_domains_reads_domains_and_aliases(directory, upstream):
    upstream.reply(
        200,
        {
            "domains": [
                {
                    "domainName": "northwind.example",
                    "isPrimary": True,
                    "verified": True,
                    "domainAliases": [
                        {
                            "domainAliasName": "nw.example",
                            "parentDomainName": "northwind.example",
                            "verified": True,
                        }
                    ],
                },
                {"domainName": "other.example", "isPrimary": False, "verified": False},
            ]
        },
    )

    domains = await directory.list_domains("tok")

    assert (upstream.last.method, upstream.url()) == ("GET", f"{ADMIN}/customer/my_customer/domains")
    assert [(d.name, d.is_primary, d.verified, d.aliases) for d in domains] == [
        ("northwind.example", True, True, ("nw.example",)),
        ("other.example", False, False, ()),
    ]


async def test_create_space_posts_to_meet_and_reads_the_space(http, endpoints, upstream):
    meet = GoogleMeet(http, endpoints)
    upstream.reply(
        200,
        {
            "name": "spaces/jQCFfuBOdN5z",
            "meetingUri": "https://meet.google.com/abc-mnop-xyz",
            "meetingCode": "abc-mnop-xyz",
            "config": {"accessType": "TRUSTED"},
        },
    )

    space = await meet.create_space("tok", access_type="TRUSTED")

    assert (upstream.last.method, upstream.url()) == ("POST", "https://meet.googleapis.com/v2/spaces")
    assert upstream.json() == {"config": {"accessType": "TRUSTED"}}
    assert (space.name, space.meeting_uri, space.meeting_code) == (
        "spaces/jQCFfuBOdN5z",
        "https://meet.google.com/abc-mnop-xyz",
        "abc-mnop-xyz",
    )


async def test_create_space_with_defaults_sends_an_empty_space_and_is_not_retried(http, endpoints, upstream):
    meet = GoogleMeet(http, endpoints)
    upstream.reply(500, {"error": {"code": 500, "message": "x", "status": "INTERNAL"}})

    with pytest.raises(ProviderUnavailable):
        await meet.create_space("tok")

    assert upstream.json() == {}
    assert len(upstream.requests) == 1
