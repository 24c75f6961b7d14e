"""One event loop, on a thread of its own, where every Alibaba Cloud SDK call runs.

Why: for each HTTPS call the SDK (darabonba) builds a new TLS context and loads the whole
certifi bundle, about 70 ms of CPU. On the bot's own loop that would stall every Slack
request in flight (measured: 350 ms for five calls); on this thread the loading releases
the GIL and the bot's loop keeps answering (7 ms at worst). The SDK's ``*_async`` methods
still do the work; ``run`` hands a coroutine to this loop and awaits its result, and a
cancellation (a timeout) cancels it there too. ``load_sdk`` imports SDK modules on a worker
thread, for the same reason: the first KMS call of a process loads about half a second of
Python (aiohttp, requests, the SDK's models), and the bot's loop keeps answering meanwhile
(and this loop keeps making calls while ECS's models load). Private to the cloud layer
(``retry``, ``gateway`` and ``identity`` use it).
"""

from __future__ import annotations

import asyncio
import atexit
import importlib
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["load_sdk", "run_on_sdk_loop", "stop_sdk_loop"]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def _sdk_loop() -> asyncio.AbstractEventLoop:
    """Return the SDK loop, starting its thread on first use."""
    global _loop, _thread
    with _lock:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            _thread = threading.Thread(
                target=_loop.run_forever, name="alibabacloud-sdk", daemon=True
            )
            _thread.start()
        return _loop


async def run_on_sdk_loop(call: Callable[[], Awaitable[T]]) -> T:
    """Run ``call()`` on the SDK loop; return its result or raise its exception."""

    async def wrapper() -> T:
        return await call()

    coroutine: Coroutine[Any, Any, T] = wrapper()
    future = asyncio.run_coroutine_threadsafe(coroutine, _sdk_loop())
    try:
        return await asyncio.wrap_future(future)
    except asyncio.CancelledError:
        future.cancel()
        raise


async def load_sdk(*modules: str) -> None:
    """Import ``modules`` (those not imported yet) on a worker thread; wait for them."""
    missing = [name for name in modules if name not in sys.modules]
    if missing:
        await asyncio.to_thread(_import, missing)


def _import(modules: list[str]) -> None:
    for name in modules:
        importlib.import_module(name)


def stop_sdk_loop() -> None:
    """Stop the SDK loop and its thread (at exit, or in a test that wants it gone)."""
    global _loop, _thread
    with _lock:
        loop, thread = _loop, _thread
        _loop = _thread = None
    if loop is None:
        return
    loop.call_soon_threadsafe(loop.stop)
    if thread is not None:
        thread.join(timeout=5)
    if not loop.is_running():
        loop.close()


atexit.register(stop_sdk_loop)
