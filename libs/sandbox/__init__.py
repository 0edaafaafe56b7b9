"""Rendezvous provider sandbox: one aiohttp server emulating Google, Microsoft, Zoom, Webex and SuccessFactors.

Every real base URL maps to ``http://HOST:PORT/<real-host>/<real path>``. Start it with
``python -m sandbox`` or, in tests, :func:`sandbox.testing.running_sandbox`.
"""

from sandbox.core import Grant, Sandbox, TokenStore, bearer_token, route

__all__ = ["Grant", "Sandbox", "TokenStore", "bearer_token", "route"]
