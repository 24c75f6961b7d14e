"""Fake Slack's side of installing an app in several workspaces: codes, tokens per team.

Owns `FakeOAuth`: the app's credentials, the authorization codes its "Allow" page hands
out (`authorize`, what the installer's click does), `oauth.v2.access` as strict as Slack
(https://docs.slack.dev/reference/methods/oauth.v2.access): the client id and secret
must be the app's (`invalid_client_id`, `bad_client_secret`), a code works once and for
10 minutes (`invalid_code`, `code_already_used`, `code_expired`), and the `redirect_uri`
must be the one the authorization was made with (`bad_redirect_uri`); with token rotation
(`authorize(expires_in=...)`) a refresh token, good once (`grant_type=refresh_token`,
else `invalid_refresh_token`); and the bot tokens
it issued, each good for one team (`team_of`), until that team's tokens are revoked
(`revoke`, what an uninstall does: later calls get `token_revoked`). Never speaks HTTP:
`slack_api.FakeSlackAPI` routes `oauth.v2.access` here and answers every other call from
the workspace of the call's token.
"""

from __future__ import annotations

import base64
import itertools
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

from .recording import RecordedCall
from .replies import Reply, error

__all__ = ["CODE_TTL", "FakeOAuth"]

CODE_TTL = 600.0
"""Seconds an authorization code is good for (Slack: 10 minutes)."""


@dataclass
class _Code:
    team_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    installer: str
    issued: float
    expires_in: int | None = None
    used: bool = False


class FakeOAuth:
    """The app's OAuth credentials, the codes handed out and the tokens issued, per team."""

    def __init__(
        self,
        *,
        client_id: str = "1111.2222",
        client_secret: str = "fake-client-secret",
        app_id: str = "A0ECSBOT",
        clock: float | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.app_id = app_id
        self.now_offset = 0.0
        """Seconds added to the clock (a test moves time forward to expire a code)."""
        self._codes: dict[str, _Code] = {}
        self._tokens: dict[str, str] = {}
        self._revoked: dict[str, str] = {}
        self._refresh_tokens: dict[str, tuple[str, int]] = {}
        self._serial = itertools.count(1)
        self.team_names: dict[str, str] = {}

    def _now(self) -> float:
        return time.monotonic() + self.now_offset

    def authorize(
        self,
        team_id: str,
        *,
        redirect_uri: str = "",
        scopes: Sequence[str] = (),
        installer: str = "U0ADMIN",
        expires_in: int | None = None,
    ) -> str:
        """Return the code Slack's "Allow" click gives for installing in ``team_id``.

        ``expires_in``: the app has token rotation on; its tokens last that many seconds.
        """
        code = f"{team_id}.{next(self._serial)}.{secrets.token_hex(8)}"
        self._codes[code] = _Code(
            team_id, redirect_uri, tuple(scopes), installer, self._now(), expires_in
        )
        return code

    def team_of(self, token: str | None) -> str | None:
        """Return the team a bot token was issued for (None: not one of ours, or revoked)."""
        return self._tokens.get(token or "")

    def tokens_of(self, team_id: str) -> list[str]:
        """Return the live bot tokens of ``team_id``."""
        return [token for token, team in self._tokens.items() if team == team_id]

    def was_revoked(self, token: str | None) -> bool:
        """Say whether ``token`` was issued and later revoked."""
        return (token or "") in self._revoked

    def revoke(self, team_id: str) -> None:
        """Revoke every token of ``team_id`` (the app was uninstalled there)."""
        for token in self.tokens_of(team_id):
            self._revoked[token] = self._tokens.pop(token)

    def _issue(self, team_id: str) -> str:
        token = f"xoxb-{team_id}-{next(self._serial)}-{secrets.token_hex(12)}"
        self._tokens[token] = team_id
        return token

    def _rotation(self, team_id: str, expires_in: int | None) -> dict[str, object]:
        if expires_in is None:
            return {}
        refresh = f"xoxe-1-{team_id}-{secrets.token_hex(12)}"
        self._refresh_tokens[refresh] = (team_id, expires_in)
        return {"refresh_token": refresh, "expires_in": expires_in}

    def _refresh(self, refresh: str) -> Reply:
        """Answer a refresh (token rotation): a new token, a new refresh token, once."""
        known = self._refresh_tokens.pop(refresh, None)
        if known is None:
            return error("invalid_refresh_token")
        team_id, expires_in = known
        return {
            "ok": True,
            "access_token": self._issue(team_id),
            "token_type": "bot",
            "team": {"id": team_id},
            "bot_user_id": "U0ECSBOT",
            "app_id": self.app_id,
            **self._rotation(team_id, expires_in),
        }

    def access(self, call: RecordedCall, *, team_names: dict[str, str]) -> Reply:
        """Answer ``oauth.v2.access``: exchange a code for a bot token, once."""
        payload = call.payload
        client_id, client_secret = _client_auth(call)
        if client_id != self.client_id:
            return error("invalid_client_id")
        if client_secret != self.client_secret:
            return error("bad_client_secret")
        if payload.get("grant_type") == "refresh_token":
            return self._refresh(str(payload.get("refresh_token") or ""))
        code_text = str(payload.get("code") or "")
        code = self._codes.get(code_text)
        if code is None:
            return error("invalid_code")
        if code.used:
            return error("code_already_used")
        if self._now() - code.issued > CODE_TTL:
            return error("code_expired")
        redirect_uri = str(payload.get("redirect_uri") or "")
        if code.redirect_uri and redirect_uri != code.redirect_uri:
            return error("bad_redirect_uri")
        code.used = True
        token = self._issue(code.team_id)
        rotation = self._rotation(code.team_id, code.expires_in)
        return {
            **rotation,
            "ok": True,
            "access_token": token,
            "token_type": "bot",
            "scope": ",".join(code.scopes),
            "bot_user_id": "U0ECSBOT",
            "app_id": self.app_id,
            "team": {"id": code.team_id, "name": team_names.get(code.team_id, code.team_id)},
            "enterprise": None,
            "is_enterprise_install": False,
            "authed_user": {"id": code.installer},
        }


def _client_auth(call: RecordedCall) -> tuple[str, str]:
    """Return the client id and secret of a call: HTTP Basic, else the body's fields."""
    header = call.headers.get("Authorization", "")
    if header.startswith("Basic "):
        user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        return user, password
    return str(call.payload.get("client_id") or ""), str(call.payload.get("client_secret") or "")
