-- 003: rotations the bot triggered and follows until KMS reports them finished, so that a
-- restart neither forgets one nor reports one twice; and a way to drop a deletion intent
-- whose cloud call was refused (no schema change needed for that).

CREATE TABLE rotations (
    id           INTEGER PRIMARY KEY,
    region       TEXT NOT NULL,
    secret_name  TEXT NOT NULL,
    version_id   TEXT NOT NULL,
    instance_id  TEXT NOT NULL DEFAULT '',
    custom       INTEGER NOT NULL DEFAULT 0 CHECK (custom IN (0, 1)),
    requested_by TEXT NOT NULL,
    approved_by  TEXT NOT NULL DEFAULT '',   -- comma-separated principals
    channel_id   TEXT NOT NULL DEFAULT '',
    message_ts   TEXT,
    status       TEXT NOT NULL
        CHECK (status IN ('starting', 'in_progress', 'completed', 'failed', 'timed_out')),
    was_invalid  INTEGER NOT NULL DEFAULT 0 CHECK (was_invalid IN (0, 1)),
    reason       TEXT NOT NULL DEFAULT '',
    request_id   TEXT NOT NULL DEFAULT '',
    started_at   TEXT NOT NULL,
    deadline     TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

-- One rotation at a time per secret: a second one is refused while the first runs.
CREATE UNIQUE INDEX rotations_one_active
    ON rotations (region, secret_name)
    WHERE status IN ('starting', 'in_progress');

CREATE INDEX rotations_by_status ON rotations (status, deadline);
