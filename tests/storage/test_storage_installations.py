"""Installations: tokens encrypted at rest, bound to their team, forgotten without a trace;
install states used once and only before they expire."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ecs_secret_bot.errors import StorageFault
from ecs_secret_bot.storage import Database, installations
from ecs_secret_bot.storage.installations import Installation

TOKEN = "xoxb-CANARY-team-a-7Yt2"
REFRESH = "xoxe-CANARY-refresh-a-9Qw"


def canaries_in(folder: Path) -> list[str]:
    found = []
    for path in folder.iterdir():
        if path.is_file():
            content = path.read_bytes()
            for canary in (TOKEN, REFRESH):
                if canary.encode() in content or canary.encode("utf-16-le") in content:
                    found.append(f"{canary} in {path.name}")
    return found


async def test_tokens_are_stored_encrypted_and_read_back(
    db: Database, db_path: Path, now: datetime
) -> None:
    installation = Installation(
        team_id="T0A", bot_token=TOKEN, bot_refresh_token=REFRESH, team_name="Alpha"
    )
    assert TOKEN not in repr(installation)
    await installations.save_installation(db, installation, now=now)
    found = await installations.find_installation(db, "T0A")
    assert found is not None
    assert (found.bot_token, found.bot_refresh_token, found.team_name) == (TOKEN, REFRESH, "Alpha")
    assert await installations.list_team_ids(db) == ["T0A"]
    assert canaries_in(db_path.parent) == []


async def test_a_reinstall_replaces_the_tokens(db: Database, db_path: Path, now: datetime) -> None:
    await installations.save_installation(db, Installation("T0A", bot_token=TOKEN), now=now)
    await installations.save_installation(db, Installation("T0A", bot_token="xoxb-new"), now=now)
    found = await installations.find_installation(db, "T0A")
    assert found is not None and found.bot_token == "xoxb-new"


async def test_uninstall_forgets_the_tokens_in_every_file(
    db: Database, db_path: Path, now: datetime
) -> None:
    await installations.save_installation(
        db, Installation("T0A", bot_token=TOKEN, bot_refresh_token=REFRESH), now=now
    )
    assert await installations.delete_installation(db, "T0A")
    assert await installations.find_installation(db, "T0A") is None
    assert not await installations.delete_installation(db, "T0A")
    assert canaries_in(db_path.parent) == []


async def test_tokens_moved_to_another_team_do_not_decrypt(db: Database, now: datetime) -> None:
    await installations.save_installation(db, Installation("T0A", bot_token=TOKEN), now=now)
    await installations.save_installation(db, Installation("T0B", bot_token="xoxb-b"), now=now)
    await db.fetchall(
        """UPDATE installations SET (nonce, ciphertext) =
               (SELECT nonce, ciphertext FROM installations WHERE team_id = 'T0A')
           WHERE team_id = 'T0B'"""
    )
    with pytest.raises(StorageFault, match="workspace T0B"):
        await installations.find_installation(db, "T0B")


async def test_a_state_is_used_once_and_only_before_it_expires(db: Database, now: datetime) -> None:
    await installations.issue_state(db, "s-1", expires_at=now + timedelta(minutes=10))
    await installations.issue_state(db, "s-2", expires_at=now + timedelta(minutes=10))
    assert await installations.consume_state(db, "s-1", now=now)
    assert not await installations.consume_state(db, "s-1", now=now)
    assert not await installations.consume_state(db, "never-issued", now=now)
    assert not await installations.consume_state(db, "s-2", now=now + timedelta(minutes=11))
