"""The aiohttp application: the admin API plus every provider module found in ``sandbox.providers``."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from aiohttp import web

from sandbox import admin
from sandbox.core import SANDBOX_KEY, Sandbox, sandbox_middleware

PROVIDERS = ("google", "microsoft", "zoom", "webex", "successfactors")
MAX_BODY_BYTES = 64 * 1024 * 1024


def load_provider_modules(names: Iterable[str] = PROVIDERS) -> list[ModuleType]:
    """Import ``sandbox.providers.<name>`` for each name present; absent modules are skipped."""
    modules = []
    for name in names:
        qualified = f"sandbox.providers.{name}"
        try:
            modules.append(importlib.import_module(qualified))
        except ModuleNotFoundError as exc:
            if exc.name != qualified:
                raise
    return modules


def create_app(
    sandbox: Sandbox | None = None,
    *,
    fixture_dir: Path | str | None = None,
    providers: Iterable[str] | None = None,
) -> web.Application:
    """Build the sandbox application; ``providers`` limits which provider modules load (default all)."""
    sandbox = sandbox or Sandbox(fixture_dir)
    app = web.Application(middlewares=[sandbox_middleware], client_max_size=MAX_BODY_BYTES)
    app[SANDBOX_KEY] = sandbox
    admin.setup(app, sandbox)
    for module in load_provider_modules(PROVIDERS if providers is None else providers):
        sandbox.register(module)
        module.setup(app, sandbox)

    async def on_shutdown(app: web.Application) -> None:
        sandbox.stopping.set()

    app.on_shutdown.append(on_shutdown)
    return app
