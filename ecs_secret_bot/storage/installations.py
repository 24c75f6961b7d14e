"""The workspaces the Slack app is installed in (OAuth install mode), and install states.

Owns the ``installations`` rows (one per team id: the bot's ids and scopes, and its tokens)
and the ``oauth_states`` rows (the one-time ``state`` of an install in progress). Tokens
are stored only as AES-256-GCM ciphertext under the data key, the team id as associated
data (a ciphertext moved to another team's row does not decrypt), as ``payloads`` stores a
value. ``delete_installation`` overwrites the row before it deletes it and then scrubs the
WAL, so an uninstalled workspace's tokens are gone from every file. A state is consumed
by deleting it (``DELETE ... RETURNING``): of two requests bearing one state, one wins.
Never logs, returns in an error or writes anywhere else a token in clear, and never
decides who may install.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.exceptions import InvalidTag

from ecs_secret_bot.errors import StorageFault, StorageProblem
from ecs_secret_bot.storage._codec import from_text, to_text
from ecs_secret_bot.storage._sql import Database, Row, Transaction
from ecs_secret_bot.storage.payloads import scrub

__all__ = [
    "Installation",
    "consume_state",
    "delete_installation",
    "find_installation",
    "issue_state",
    "list_team_ids",
    "save_installation",
]

_NONCE_BYTES = 12


@dataclass(frozen=True)
class Installation:
    """One workspace's installation of the app; the tokens never show in ``repr``."""

    team_id: str
    bot_token: str = field(repr=False)
    bot_refresh_token: str = field(default="", repr=False)
    token_expires_at: datetime | None = None
    enterprise_id: str = ""
    team_name: str = ""
    app_id: str = ""
    bot_id: str = ""
    bot_user_id: str = ""
    bot_scopes: str = ""
    installer_id: str = ""
    installed_at: datetime | None = None


async def save_installation(db: Database, installation: Installation, *, now: datetime) -> None:
    """Store the workspace's installation, replacing an earlier one (a re-install)."""
    secret = json.dumps(
        {"bot_token": installation.bot_token, "refresh": installation.bot_refresh_token}
    ).encode("utf-8")
    nonce = secrets.token_bytes(_NONCE_BYTES)
    ciphertext = db.cipher.encrypt(nonce, secret, installation.team_id.encode("utf-8"))
    expires = installation.token_expires_at
    async with db.transaction() as tx:
        replaced = await _overwrite(tx, installation.team_id)
        await tx.fetchall(
            """INSERT INTO installations (team_id, enterprise_id, team_name, app_id, bot_id,
                   bot_user_id, bot_scopes, installer_id, token_expires_at, nonce, ciphertext,
                   installed_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (team_id) DO UPDATE SET
                   enterprise_id = excluded.enterprise_id, team_name = excluded.team_name,
                   app_id = excluded.app_id, bot_id = excluded.bot_id,
                   bot_user_id = excluded.bot_user_id, bot_scopes = excluded.bot_scopes,
                   installer_id = excluded.installer_id,
                   token_expires_at = excluded.token_expires_at, nonce = excluded.nonce,
                   ciphertext = excluded.ciphertext, updated_at = excluded.updated_at""",
            (
                installation.team_id,
                installation.enterprise_id,
                installation.team_name,
                installation.app_id,
                installation.bot_id,
                installation.bot_user_id,
                installation.bot_scopes,
                installation.installer_id,
                None if expires is None else to_text(expires),
                nonce,
                ciphertext,
                to_text(now),
                to_text(now),
            ),
        )
    if replaced:
        await scrub(db)  # the old tokens' pages leave the WAL too


async def find_installation(db: Database, team_id: str) -> Installation | None:
    """Return the workspace's installation with its tokens decrypted, or None."""
    row = await db.fetchone("SELECT * FROM installations WHERE team_id = ?", (team_id,))
    return None if row is None else _installation(db, row)


async def list_team_ids(db: Database) -> list[str]:
    """Return the team ids of every installed workspace, in order."""
    rows = await db.fetchall("SELECT team_id FROM installations ORDER BY team_id")
    return [str(row["team_id"]) for row in rows]


async def delete_installation(db: Database, team_id: str) -> bool:
    """Forget the workspace's tokens, in every file; False when it was not installed."""
    async with db.transaction() as tx:
        if not await _overwrite(tx, team_id):
            return False
        await tx.fetchall("DELETE FROM installations WHERE team_id = ?", (team_id,))
    await scrub(db)
    return True


async def issue_state(db: Database, state: str, *, expires_at: datetime) -> None:
    """Record an install's one-time ``state`` until ``expires_at``."""
    await db.fetchall(
        "INSERT INTO oauth_states (state, expires_at) VALUES (?, ?)", (state, to_text(expires_at))
    )


async def consume_state(db: Database, state: str, *, now: datetime) -> bool:
    """Use up ``state``: True once if it was issued and has not expired, else False.

    Expired states are deleted on the way.
    """
    async with db.transaction() as tx:
        await tx.fetchall("DELETE FROM oauth_states WHERE expires_at <= ?", (to_text(now),))
        rows = await tx.fetchall(
            "DELETE FROM oauth_states WHERE state = ? RETURNING state", (state,)
        )
    return bool(rows)


async def _overwrite(tx: Transaction, team_id: str) -> bool:
    # Overwrite first, so the ciphertext leaves its page even if a copy of the page survives.
    rows = await tx.fetchall(
        """UPDATE installations
              SET nonce = zeroblob(length(nonce)), ciphertext = zeroblob(length(ciphertext))
            WHERE team_id = ? RETURNING team_id""",
        (team_id,),
    )
    return bool(rows)


def _installation(db: Database, row: Row) -> Installation:
    team_id = str(row["team_id"])
    try:
        plain = db.cipher.decrypt(
            bytes(row["nonce"]), bytes(row["ciphertext"]), team_id.encode("utf-8")
        )
    except InvalidTag:
        raise StorageFault(
            f"The stored tokens of workspace {team_id} in {db.where} cannot be decrypted: "
            "they were altered, or moved from another workspace.",
            problem=StorageProblem.PAYLOAD_UNREADABLE,
            path=db.where,
        ) from None
    tokens = json.loads(plain)
    expires = row["token_expires_at"]
    return Installation(
        team_id=team_id,
        bot_token=str(tokens["bot_token"]),
        bot_refresh_token=str(tokens.get("refresh") or ""),
        token_expires_at=None if expires is None else from_text(expires),
        enterprise_id=row["enterprise_id"],
        team_name=row["team_name"],
        app_id=row["app_id"],
        bot_id=row["bot_id"],
        bot_user_id=row["bot_user_id"],
        bot_scopes=row["bot_scopes"],
        installer_id=row["installer_id"],
        installed_at=from_text(row["installed_at"]),
    )
