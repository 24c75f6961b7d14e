-- 006: incident sweeps. One row per sweep (who asked, why, where, the selector, the digest
-- of the runnable set an approval is bound to, its status) and one row per secret of it
-- (its state, why, the rotation it triggered). Every state change is a compare-and-set,
-- so a secret moves from queued to running once, whichever process or restart gets there.

CREATE TABLE sweeps (
    id              TEXT PRIMARY KEY,
    requester       TEXT NOT NULL,
    reason          TEXT NOT NULL,
    channel_id      TEXT NOT NULL DEFAULT '',
    selector        TEXT NOT NULL,              -- JSON
    digest          TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('awaiting_approval', 'running',
                        'stopping', 'finished', 'stopped', 'denied', 'expired', 'changed')),
    approval_id     TEXT NOT NULL DEFAULT '',
    approval_rule   TEXT NOT NULL DEFAULT '',
    stopped_by      TEXT NOT NULL DEFAULT '',
    note            TEXT NOT NULL DEFAULT '',
    message_channel TEXT NOT NULL DEFAULT '',
    message_ts      TEXT NOT NULL DEFAULT '',
    actor           TEXT NOT NULL DEFAULT '{}',  -- JSON: the requester's context (channel name, team)
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

CREATE INDEX sweeps_by_status ON sweeps (status, created_at);
CREATE INDEX sweeps_by_approval ON sweeps (approval_id) WHERE approval_id != '';

CREATE TABLE sweep_items (
    sweep_id        TEXT NOT NULL REFERENCES sweeps (id),
    position        INTEGER NOT NULL,
    region          TEXT NOT NULL,
    secret_name     TEXT NOT NULL,
    arn             TEXT NOT NULL DEFAULT '',
    instance_id     TEXT NOT NULL DEFAULT '',
    instance_name   TEXT NOT NULL DEFAULT '',
    user_name       TEXT NOT NULL DEFAULT '',
    kind            TEXT NOT NULL DEFAULT '',
    approval_rule   TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL CHECK (state IN ('ready', 'refused', 'skipped', 'queued',
                        'running', 'completed', 'failed', 'not_confirmed', 'stopped')),
    reason          TEXT NOT NULL DEFAULT '',
    rotation_id     INTEGER,
    version_id      TEXT NOT NULL DEFAULT '',
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (sweep_id, position),
    UNIQUE (sweep_id, region, secret_name)
);
