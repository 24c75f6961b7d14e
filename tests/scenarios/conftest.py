"""Fixtures of the scenario tests: the whole bot, running, against fake Slack, on SQLite or
on PostgreSQL.

``engine`` is the one switch: ``sqlite`` (a file under ``tmp_path``) unless a test is
marked ``both_engines``, which runs it once per engine (``[sqlite]``, ``[postgres]``).
``storage_url`` turns it into what ``running_bot``/``installed_bot`` take as
``database_url``: ``""`` for SQLite, else a fresh database on the session's throwaway
PostgreSQL (``tests/conftest.py``). ``bot`` is on it; a module with its own ``bot`` fixture
passes ``storage_url`` through.

Which scenarios run on both engines, and why those: the ones whose outcome rests on what
storage keeps and how it answers. The duties (``test_scenario_duties``: reminders claimed
once, reconciliation, stale and expired requests, rotations followed, the audit anchor),
deletions, restores and approvals with their cards (``test_scenario_delete_and_approvals``,
``test_scenario_approval_cards``, the approved custom value of
``test_scenario_never_decrypt``, the approval in a DM of ``test_scenario_wording``), the
reads (list, show, pending, approvals, audit, App Home: ``test_scenario_reads_and_home``),
the errors that come from looking things up (``test_scenario_errors``), rotations followed
to their message (``test_scenario_basics``, ``test_scenario_custom_rotation``, whose canary
is also looked for in every row), and the workspaces with their stored, encrypted
installations (``test_scenario_workspaces``, ``test_scenario_installs``). The rest stay on
SQLite only: parsing and wording (arguments, fuzz, malformed, modal results), Slack's own
strictness and slowness (strict_slack, slow_slack, slack_errors, socket_mode), the slow
cloud (43 s that would prove nothing more on PostgreSQL), and the ``serve`` process tests of
SQLite files (serve, start, stop); a ``serve`` process on PostgreSQL is tested in
``tests/storage/test_storage_postgres_programs.py`` and ``test_scenario_database_fault``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fakes import FakeSlackAPI
from fakes.bot import BotHarness, running_bot

ENGINES = ("sqlite", "postgres")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run a test marked ``both_engines`` once per engine."""
    if "engine" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_engines"):
        metafunc.parametrize("engine", ENGINES, indirect=True)


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    """Return the engine under test: ``sqlite`` unless the test runs on both."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def storage_url(engine: str, request: pytest.FixtureRequest) -> str:
    """Return the bot's ``database_url``: ``""`` on SQLite, a fresh PostgreSQL database else."""
    return str(request.getfixturevalue("database_url")) if engine == "postgres" else ""


@pytest.fixture
async def bot(
    tmp_path: Path, slack_api: FakeSlackAPI, storage_url: str
) -> AsyncIterator[BotHarness]:
    """Yield the bot serving HTTP on loopback, with the sandbox cloud, on ``engine``."""
    async with running_bot(tmp_path, slack_api, database_url=storage_url) as harness:
        yield harness
