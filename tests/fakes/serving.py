"""Running a bolt `AsyncApp` for a test: over real HTTP, or over fake Socket Mode.

Owns two async context managers that any test can wrap around an app built by the
code under test:

- `serve_http(app)`: bolt's own aiohttp web app (`AsyncApp.web_app()`, the one
  `AsyncApp.start()` runs) on 127.0.0.1 at a free port; yields the port.
- `connect_socket_mode(app, app_token=...)`: bolt's `AsyncSocketModeHandler`
  connected to the `FakeSocketModeServer` that `apps.connections.open` hands out;
  yields the handler and closes it cleanly (no unclosed aiohttp session left behind).

Never builds an app: the bot's factory does that.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from . import workspace as ws

__all__ = ["connect_socket_mode", "serve_http"]


@asynccontextmanager
async def serve_http(app: AsyncApp, *, path: str = "/slack/events") -> AsyncIterator[int]:
    """Serve `app` on 127.0.0.1 at a free port; yield the port."""
    runner = web.AppRunner(app.web_app(path=path), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


@asynccontextmanager
async def connect_socket_mode(
    app: AsyncApp, *, app_token: str = ws.APP_TOKEN
) -> AsyncIterator[AsyncSocketModeHandler]:
    """Connect `app` through Socket Mode (URL from `apps.connections.open`); yield the handler."""
    handler = AsyncSocketModeHandler(app, app_token=app_token)
    try:
        await handler.connect_async()  # type: ignore[no-untyped-call]
        yield handler
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
        # close_async() cancels the client's reader, monitor and processor tasks without
        # waiting for them; let them unwind so none outlives the test's event loop.
        await asyncio.sleep(0)
