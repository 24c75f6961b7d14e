"""The HTTP listener of ``serve``: what a client may hold, and a stop no client can hold open.

Owns ``Limits`` and ``Listener``, which serves an aiohttp application on a host and port:

- a connection that has not sent a whole request head within ``Limits.header_timeout``
  seconds is closed, and so is a keep-alive connection idle that long between requests
  (aiohttp's keep-alive timer, which it arms when the connection opens);
- past ``Limits.max_connections`` open connections, a new one is answered
  ``503 Service Unavailable`` and closed, before anything is read from it;
- ``close()`` stops accepting at once, closes idle keep-alive connections at once, gives
  the requests in progress (the handler and every task it started, directly or not: bolt
  runs a listener past its ack in a task of its own) until the deadline, then cancels them.

The body's own time-out is applied where the body is read (``bot.http``). Never builds the
application, never reads a request, and never decides what one means.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Coroutine, Generator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

__all__ = ["Limits", "Listener", "RequestWork"]

logger = logging.getLogger(__name__)

LINGER = 1.0
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 31\r\n"
    b"Retry-After: 1\r\n"
    b"Connection: close\r\n"
    b"\r\n"
    b"too many connections; try again"
)


@dataclass(frozen=True)
class Limits:
    """What one client may hold of the server."""

    header_timeout: float = 15.0
    """Seconds to send a whole request head; also how long an idle keep-alive stays open."""
    body_timeout: float = 15.0
    """Seconds to send the whole body once the head has arrived."""
    max_connections: int = 256
    """Open connections at most; past it a new one is answered 503 and closed."""


class RequestWork:
    """The requests in progress and the tasks they started, however indirectly.

    A task belongs to a request when it was created while a task of that request ran:
    ``install()`` puts a task factory on the loop that asks, at each creation, whether the
    creating code is a request's; a handler marks its own task with ``enter()``. Example::

        work = RequestWork()
        work.install()
        async def handler(request: web.Request) -> web.Response:
            work.enter()           # this task, and those it starts, are request work
            ...
        left = await work.finish(10.0)
    """

    _marked: contextvars.ContextVar[RequestWork | None] = contextvars.ContextVar(
        "request_work", default=None
    )

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._previous_factory: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = asyncio.Event()

    def install(self) -> None:
        """Count, from now on, the tasks that request work starts as request work too."""
        loop = asyncio.get_running_loop()
        self._loop, self._previous_factory = loop, loop.get_task_factory()
        loop.set_task_factory(_task_factory)

    def uninstall(self) -> None:
        """Put the loop's task factory back."""
        if self._loop is not None:
            self._loop.set_task_factory(self._previous_factory)
            self._loop = None

    def enter(self) -> None:
        """Count the running task, and every task it starts, as request work."""
        task = asyncio.current_task()
        if task is not None:
            self.add(task)
        self._marked.set(self)

    def add(self, task: asyncio.Task[Any]) -> None:
        """Keep ``task`` until it ends."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def read_body(self, request: web.Request, *, timeout: float) -> bytes | None:
        """Return the body; None if the server began stopping before it arrived.

        Raises ``TimeoutError`` when it has not arrived within ``timeout`` seconds. A body
        still on its way when the stop begins is not work in progress: it is not waited for.
        """
        reading = asyncio.ensure_future(request.read())
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            async with asyncio.timeout(timeout):
                await asyncio.wait([reading, stopping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not reading.done():
                reading.cancel()
        return reading.result() if reading.done() else None

    def stop_reading(self) -> None:
        """Answer the requests whose body is still arriving, and those to come, at once."""
        self._stopping.set()

    @classmethod
    def current(cls) -> RequestWork | None:
        """Return the work the running code belongs to, if it is a request's."""
        return cls._marked.get()

    async def finish(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for the work, cancel the rest; return how many."""
        current = asyncio.current_task()
        waiting = {task for task in self._tasks if task is not current and not task.done()}
        if not waiting:
            return 0
        _, still = await asyncio.wait(waiting, timeout=max(timeout, 0))
        for task in still:
            task.cancel()
        if still:
            await asyncio.wait(still, timeout=1.0)
        return len(still)


def _task_factory(
    loop: asyncio.AbstractEventLoop,
    coro: Generator[Any, None, Any] | Coroutine[Any, Any, Any],
    **kwargs: Any,
) -> asyncio.Task[Any]:
    """Create a task as asyncio does; count it as request work if a request started it."""
    task: asyncio.Task[Any] = asyncio.Task(coro, loop=loop, **kwargs)
    work = RequestWork.current()
    if work is not None:
        work.add(task)
    return task


class _Busy(asyncio.Protocol):
    """A connection past the bound: say 503 and close, reading nothing."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(transport, asyncio.WriteTransport):
            transport.write(BUSY)
        transport.close()


class Listener:
    """Serves ``app`` on ``host:port`` within ``limits``; ``close`` ends within ``grace``.

    Example::

        listener = Listener(app, host="127.0.0.1", port=3000, limits=Limits(), grace=10)
        await listener.start()
        ...
        await listener.close()
    """

    def __init__(
        self,
        app: web.Application,
        *,
        host: str,
        port: int,
        limits: Limits,
        grace: float,
    ) -> None:
        self._runner = web.AppRunner(
            app,
            access_log=None,
            keepalive_timeout=limits.header_timeout,
            # After an answer given before the body arrived (408, 413, 503), aiohttp reads
            # and drops the rest for this long: a second, not the default ten.
            lingering_time=LINGER,
            # aiohttp waits this long for a handler, then cancels it.
            shutdown_timeout=max(grace, 0.01),
        )
        self._host = host
        self._port = port
        self._limits = limits
        self._grace = grace
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """Return the port listened on (the one picked, when asked for 0)."""
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    def open_connections(self) -> int:
        """Return how many connections are open."""
        server = self._runner.server
        return len(server.connections) if server is not None else 0

    async def start(self) -> None:
        """Listen; raise OSError if the address cannot be had."""
        await self._runner.setup()
        server = self._runner.server
        assert server is not None
        limit = self._limits.max_connections

        def accept() -> asyncio.Protocol:
            if len(server.connections) >= limit:
                logger.warning("refused a connection: %d open, the most allowed", limit)
                return _Busy()
            return server()

        try:
            loop = asyncio.get_running_loop()
            self._server = await loop.create_server(accept, self._host, self._port)
        except OSError:
            await self._runner.cleanup()
            raise

    async def close(self) -> None:
        """Stop accepting; close idle connections now and the others within the grace period."""
        if self._server is not None:
            self._server.close()  # no new connections; open ones go on
        # Closes idle keep-alive connections (and heads still arriving) at once, waits for
        # handlers in progress up to the grace period, then cancels them.
        cleanup = asyncio.ensure_future(self._runner.cleanup())
        await asyncio.wait([cleanup], timeout=self._grace + 1.0)
        if not cleanup.done():  # a handler that ignores its cancellation
            cleanup.cancel()
