-- 006: the workspaces the app is installed in (OAuth install mode), the one-time states of
-- installs in progress, and the workspace of every record that outlives its request, so
-- that what the duties post later (reminders, closed deletions, expired cards, rotation
-- follow-ups) goes through that workspace's token. Records made before keep '' (the single
-- token's workspace).

-- One row per workspace. The tokens (bot token, refresh token) are AES-256-GCM ciphertext
-- under the data key, the team id as associated data; nothing else here is secret.
CREATE TABLE installations (
    team_id          TEXT PRIMARY KEY,
    enterprise_id    TEXT NOT NULL DEFAULT '',
    team_name        TEXT NOT NULL DEFAULT '',
    app_id           TEXT NOT NULL DEFAULT '',
    bot_id           TEXT NOT NULL DEFAULT '',
    bot_user_id      TEXT NOT NULL DEFAULT '',
    bot_scopes       TEXT NOT NULL DEFAULT '',
    installer_id     TEXT NOT NULL DEFAULT '',
    token_expires_at TEXT,
    nonce            BLOB NOT NULL,
    ciphertext       BLOB NOT NULL,
    installed_at     TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

-- An install's state parameter: issued with the "Add to Slack" link, consumed once.
CREATE TABLE oauth_states (
    state      TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL
);

CREATE INDEX oauth_states_by_expiry ON oauth_states (expires_at);

ALTER TABLE pending_deletions ADD COLUMN team_id TEXT NOT NULL DEFAULT '';
ALTER TABLE approvals ADD COLUMN team_id TEXT NOT NULL DEFAULT '';
ALTER TABLE rotations ADD COLUMN team_id TEXT NOT NULL DEFAULT '';
