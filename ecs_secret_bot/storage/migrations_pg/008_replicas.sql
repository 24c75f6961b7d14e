-- 008 (PostgreSQL): fencing tokens and held follow-ups, as migrations/008_replicas.sql.

ALTER TABLE leases ADD COLUMN token INTEGER NOT NULL DEFAULT 0;

ALTER TABLE rotations ADD COLUMN follower TEXT NOT NULL DEFAULT '';
ALTER TABLE rotations ADD COLUMN follow_until TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE rotations ADD COLUMN reported_at TEXT COLLATE "C";

UPDATE rotations SET reported_at = updated_at WHERE status NOT IN ('starting', 'in_progress');

CREATE INDEX rotations_unreported ON rotations (deadline, id) WHERE reported_at IS NULL;
