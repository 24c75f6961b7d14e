-- 008: several replicas on one database. Each lease gets a fencing token (one higher at each
-- new holder: a holder's writes are refused once another took over). Each rotation gets the
-- replica that follows it and until when (a heartbeat: a survivor takes over the follow-ups
-- of a replica that died), and when its end was reported (a survivor reports an end whose
-- follower died before saying it). Rotations already finished count as reported.

ALTER TABLE leases ADD COLUMN token INTEGER NOT NULL DEFAULT 0;

ALTER TABLE rotations ADD COLUMN follower TEXT NOT NULL DEFAULT '';
ALTER TABLE rotations ADD COLUMN follow_until TEXT NOT NULL DEFAULT '';
ALTER TABLE rotations ADD COLUMN reported_at TEXT;

UPDATE rotations SET reported_at = updated_at WHERE status NOT IN ('starting', 'in_progress');

CREATE INDEX rotations_unreported ON rotations (deadline, id) WHERE reported_at IS NULL;
