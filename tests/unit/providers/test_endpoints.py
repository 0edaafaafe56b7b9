"""Base URLs: the real hosts by default, the sandbox's one-prefix-per-host layout on demand."""

from __future__ import annotations

from providers import OAuthApp, ProviderEndpoints


def test_production_endpoints_are_the_real_hosts():
    endpoints = ProviderEndpoints()

    assert endpoints.google_calendar == "https://www.googleapis.com/calendar/v3"
    assert endpoints.microsoft_graph == "https://graph.microsoft.com/v1.0"
    assert endpoints.successfactors_api is None


def test_sandbox_endpoints_put_each_real_host_under_the_base_url():
    endpoints = ProviderEndpoints.sandbox("http://127.0.0.1:8060/")

    assert endpoints == ProviderEndpoints(
        google_accounts="http://127.0.0.1:8060/accounts.google.com",
        google_oauth2="http://127.0.0.1:8060/oauth2.googleapis.com",
        google_openid="http://127.0.0.1:8060/openidconnect.googleapis.com/v1",
        google_calendar="http://127.0.0.1:8060/www.googleapis.com/calendar/v3",
        google_admin="http://127.0.0.1:8060/admin.googleapis.com/admin/directory/v1",
        google_meet="http://127.0.0.1:8060/meet.googleapis.com/v2",
        microsoft_login="http://127.0.0.1:8060/login.microsoftonline.com",
        microsoft_graph="http://127.0.0.1:8060/graph.microsoft.com/v1.0",
        zoom_oauth="http://127.0.0.1:8060/zoom.us",
        zoom_api="http://127.0.0.1:8060/api.zoom.us/v2",
        webex_api="http://127.0.0.1:8060/webexapis.com/v1",
        successfactors_api="http://127.0.0.1:8060/successfactors",
    )


def test_an_app_secret_never_shows_in_its_repr():
    assert "hunter2" not in repr(OAuthApp("client", "hunter2"))
