"""Run the sandbox standalone.

``PYTHONPATH=libs python -m sandbox --host 127.0.0.1 --port 8060 --fixture-dir libs/sandbox/fixtures/demo``
(``SANDBOX_HOST``, ``SANDBOX_PORT``, ``SANDBOX_FIXTURE_DIR`` give the defaults; ``--providers google,zoom``
or ``SANDBOX_PROVIDERS`` loads only those providers, default all). Prints one JSON line
when listening and exits 0 on SIGTERM or SIGINT.

``--token-file PATH`` (``SANDBOX_TOKEN_FILE``) keeps the tokens the sandbox issued across restarts:
read at start when present, written at a clean stop. Real providers do not forget the tokens they
issued when Rendezvous restarts, and the local stack's identity keeps its stored ones, so ``make run``
uses it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from aiohttp import web

from sandbox.app import create_app
from sandbox.core import DEFAULT_FIXTURE_DIR, SANDBOX_KEY, TokenStore


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options, defaulting from the environment."""
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("SANDBOX_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SANDBOX_PORT", "8060")))
    parser.add_argument(
        "--fixture-dir", default=os.environ.get("SANDBOX_FIXTURE_DIR", str(DEFAULT_FIXTURE_DIR))
    )
    parser.add_argument(
        "--providers",
        default=os.environ.get("SANDBOX_PROVIDERS", ""),
        help="comma-separated provider modules to load (default: every one present)",
    )
    parser.add_argument(
        "--token-file",
        default=os.environ.get("SANDBOX_TOKEN_FILE", ""),
        help="JSON file keeping the issued tokens across restarts (default: none, tokens die with the process)",
    )
    return parser.parse_args(argv)


async def serve(
    host: str, port: int, fixture_dir: str, providers: list[str] | None = None, token_file: str = ""
) -> None:
    """Serve until SIGTERM/SIGINT (tokens read from and written to ``token_file`` when given)."""
    app = create_app(fixture_dir=fixture_dir, providers=providers)
    tokens = app[SANDBOX_KEY].tokens
    if token_file:
        load_tokens(tokens, Path(token_file))
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(
        json.dumps(
            {
                "event": "sandbox.listening",
                "url": f"http://{bound_host}:{bound_port}",
                "host": bound_host,
                "port": bound_port,
                "fixture_dir": str(app[SANDBOX_KEY].fixture_dir),
                "providers": sorted(app[SANDBOX_KEY].modules),
            }
        ),
        flush=True,
    )
    await stop.wait()
    await runner.cleanup()
    if token_file:
        save_tokens(tokens, Path(token_file))


def load_tokens(tokens: TokenStore, path: Path) -> None:
    """Honour the tokens a previous run saved in ``path`` (nothing when there is no such file)."""
    if path.exists():
        tokens.restore(json.loads(path.read_text()))


def save_tokens(tokens: TokenStore, path: Path) -> None:
    """Write every issued token to ``path`` for the next run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(tokens.snapshot()))
    partial.replace(path)  # a reader never sees half a file


def main(argv: list[str] | None = None) -> int:
    """Entry point; the exit status."""
    args = parse_args(argv)
    providers = [p.strip() for p in args.providers.split(",") if p.strip()] or None
    asyncio.run(serve(args.host, args.port, args.fixture_dir, providers, args.token_file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
