-- 006 (PostgreSQL): the installed workspaces, install states and each record's workspace,
-- as migrations/006_installations.sql.

CREATE TABLE installations (
    team_id          TEXT PRIMARY KEY,
    enterprise_id    TEXT NOT NULL DEFAULT '',
    team_name        TEXT NOT NULL DEFAULT '',
    app_id           TEXT NOT NULL DEFAULT '',
    bot_id           TEXT NOT NULL DEFAULT '',
    bot_user_id      TEXT NOT NULL DEFAULT '',
    bot_scopes       TEXT NOT NULL DEFAULT '',
    installer_id     TEXT NOT NULL DEFAULT '',
    token_expires_at TEXT COLLATE "C",
    nonce            BYTEA NOT NULL,
    ciphertext       BYTEA NOT NULL,
    installed_at     TEXT COLLATE "C" NOT NULL,
    updated_at       TEXT COLLATE "C" NOT NULL
);

CREATE TABLE oauth_states (
    state      TEXT PRIMARY KEY,
    expires_at TEXT COLLATE "C" NOT NULL
);

CREATE INDEX oauth_states_by_expiry ON oauth_states (expires_at);

ALTER TABLE pending_deletions ADD COLUMN team_id TEXT NOT NULL DEFAULT '';
ALTER TABLE approvals ADD COLUMN team_id TEXT NOT NULL DEFAULT '';
ALTER TABLE rotations ADD COLUMN team_id TEXT NOT NULL DEFAULT '';
