"""Fixtures every test may use: fake Slack over loopback, and the signing secret.

Owns `slack_api` (a started `FakeSlackAPI`, with the test's `slack_response` markers
applied), `socket_mode_server` (a started `FakeSocketModeServer` that `slack_api`
hands out through `apps.connections.open`) and `signing_secret`.

Owns the throwaway PostgreSQL too, for any test that wants the second engine:
``postgres_server`` (session-scoped, started on first use, stopped at the end) and
``database_url`` (a fresh, empty database on it for one test, dropped after; the bot
migrates it at its first open). Request ``database_url`` and hand it to
``storage.open_pg_database``, ``fakes.core.CoreHarness.start(database_url=...)`` (a core on
PostgreSQL) or ``fakes.serve_process.serve_config(database_url=...)`` (``serve`` processes
sharing one PostgreSQL and one key file). Where no PostgreSQL can exist the test is
skipped saying why; under ``CI=true`` it fails instead (CI installs PostgreSQL).

Never builds the bot and never sets up the cloud sandbox or storage: those fixtures
live next to the tests that need them. Every test, though, is watched for one thing: the
bot never decrypts a secret, so no sandbox of the test session ever receives a
GetSecretValue from it (``the_bot_never_decrypts``, over every sandbox's call log).

Scripting a reply with a marker (opsdroid style)::

    @pytest.mark.slack_response("chat.postMessage", {"ok": False, "error": "channel_not_found"})
    async def test_refused_post(slack_api): ...

The marker takes the arguments of `FakeSlackAPI.respond` (`status=`, `headers=`,
`times=`); markers nearer the test win over those on its class or module.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from fakes import SIGNING_SECRET, FakeSlackAPI, FakeSocketModeServer
from fakes.cloud import BOT_AGENT
from fakes.postgres import PostgresServer, missing_reason

from ecs_secret_bot.sandbox import CallLog


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "slack_response(method, body, *, status=200, headers=None, times=None): "
        "script fake Slack's reply to a Web API method (see FakeSlackAPI.respond)",
    )
    config.addinivalue_line(
        "markers",
        "both_engines: run the scenario on SQLite and on PostgreSQL (tests/scenarios/conftest.py)",
    )


@pytest.fixture(autouse=True)
def the_bot_never_decrypts() -> Iterator[None]:
    """Fail the test during which the bot sent GetSecretValue to any sandbox of this process."""
    before = CallLog.in_process("GetSecretValue", agent=BOT_AGENT)
    yield
    sent = CallLog.in_process("GetSecretValue", agent=BOT_AGENT) - before
    assert sent == 0, f"the bot sent GetSecretValue {sent} time(s): it must never decrypt"


@pytest.fixture
def signing_secret() -> str:
    """Return the signing secret the app under test verifies requests with."""
    return SIGNING_SECRET


@pytest.fixture
async def slack_api(request: pytest.FixtureRequest) -> AsyncIterator[FakeSlackAPI]:
    """Yield a started fake Slack Web API, with `slack_response` markers applied."""
    fake = FakeSlackAPI()
    # iter_markers yields the nearest first; apply it last so that it wins.
    for marker in reversed(list(request.node.iter_markers("slack_response"))):
        fake.respond(*marker.args, **marker.kwargs)
    async with fake:
        yield fake


@pytest.fixture
async def socket_mode_server(slack_api: FakeSlackAPI) -> AsyncIterator[FakeSocketModeServer]:
    """Yield a started fake Socket Mode server that `apps.connections.open` points to."""
    async with FakeSocketModeServer() as server:
        slack_api.attach_socket_mode(server)
        yield server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Start a throwaway PostgreSQL for the session; skip (fail under CI) where none can run."""
    reason = missing_reason()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the PostgreSQL tests, but {reason}")
        pytest.skip(reason)
    server = PostgresServer()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def database_url(postgres_server: PostgresServer) -> Iterator[str]:
    """Return the URL of a fresh, empty PostgreSQL database for this test (dropped after)."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)
