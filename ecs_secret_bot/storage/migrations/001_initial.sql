-- 001: pending deletions, approvals with votes and encrypted payloads, the audit log,
-- idempotency keys. Timestamps are fixed-width UTC text (YYYY-MM-DDTHH:MM:SS.ffffffZ),
-- so text order is time order and range scans use the indexes.

CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE pending_deletions (
    id                  INTEGER PRIMARY KEY,
    region              TEXT NOT NULL,
    secret_name         TEXT NOT NULL,
    scheduled_by        TEXT NOT NULL,
    channel_id          TEXT NOT NULL,
    message_ts          TEXT,
    planned_delete_time TEXT NOT NULL,
    status              TEXT NOT NULL
        CHECK (status IN ('pending', 'restored', 'deleted', 'unknown')),
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    note                TEXT NOT NULL DEFAULT ''
);

-- At most one active row per secret: a second schedule is a conflict, not a duplicate.
CREATE UNIQUE INDEX pending_one_active
    ON pending_deletions (region, secret_name)
    WHERE status IN ('pending', 'unknown');

-- The reminder query is a range scan on (status, time): its cost follows the rows due,
-- not the size of the table.
CREATE INDEX pending_by_status_time
    ON pending_deletions (status, planned_delete_time);

-- One row per reminder sent; the primary key makes "mark sent" a compare-and-set.
CREATE TABLE pending_reminders (
    pending_id INTEGER NOT NULL REFERENCES pending_deletions (id) ON DELETE CASCADE,
    label      TEXT NOT NULL,
    sent_at    TEXT NOT NULL,
    PRIMARY KEY (pending_id, label)
) WITHOUT ROWID;

CREATE TABLE approvals (
    id              TEXT PRIMARY KEY,
    action          TEXT NOT NULL,
    resource        TEXT NOT NULL,
    region          TEXT NOT NULL,
    secret_name     TEXT NOT NULL,
    params          TEXT NOT NULL,          -- JSON object, never a secret value
    params_hash     TEXT NOT NULL,
    requester       TEXT NOT NULL,
    channel_id      TEXT NOT NULL,
    rule            TEXT NOT NULL,
    requirements    TEXT NOT NULL,          -- JSON object: approver set -> approvals needed
    reason          TEXT NOT NULL,
    status          TEXT NOT NULL
        CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'executed', 'failed')),
    created_at      TEXT NOT NULL,
    expires_at      TEXT,
    updated_at      TEXT NOT NULL,
    message_channel TEXT,
    message_ts      TEXT,
    outcome         TEXT NOT NULL DEFAULT ''
);

CREATE INDEX approvals_by_status_expiry ON approvals (status, expires_at);
CREATE INDEX approvals_by_requester ON approvals (requester, status, created_at);

CREATE TABLE approval_votes (
    approval_id  TEXT NOT NULL REFERENCES approvals (id) ON DELETE CASCADE,
    voter        TEXT NOT NULL,
    decision     TEXT NOT NULL CHECK (decision IN ('approve', 'deny')),
    approver_set TEXT NOT NULL,
    at           TEXT NOT NULL,
    PRIMARY KEY (approval_id, voter)
) WITHOUT ROWID;

-- AES-256-GCM ciphertext only; the associated data is the approval id.
CREATE TABLE payloads (
    approval_id TEXT PRIMARY KEY REFERENCES approvals (id) ON DELETE CASCADE,
    nonce       BLOB NOT NULL,
    ciphertext  BLOB NOT NULL
);

-- A payload is erased in the same transaction that closes its approval: overwritten
-- (so the old bytes leave the page) and then deleted (secure_delete zeroes the space).
CREATE TRIGGER approvals_erase_payload
    AFTER UPDATE OF status ON approvals
    WHEN NEW.status IN ('denied', 'expired', 'executed', 'failed')
BEGIN
    UPDATE payloads
        SET nonce = zeroblob(length(nonce)), ciphertext = zeroblob(length(ciphertext))
        WHERE approval_id = NEW.id;
    DELETE FROM payloads WHERE approval_id = NEW.id;
END;

CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    resource    TEXT NOT NULL,
    channel_id  TEXT NOT NULL,
    decision    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    approval_id TEXT NOT NULL,
    detail      TEXT NOT NULL,              -- canonical JSON object
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);

CREATE INDEX audit_by_resource ON audit_log (resource, seq);
CREATE INDEX audit_by_actor ON audit_log (actor, seq);

-- Append-only inside the program; the hash chain catches edits made around it.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TABLE idempotency_keys (
    key        TEXT PRIMARY KEY,
    claimed_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    result     TEXT                         -- JSON object once the request finished
);

CREATE INDEX idempotency_by_expiry ON idempotency_keys (expires_at);
