-- 005: what ties the entries of one request together, which secret an entry is about, and
-- the keyed chain. correlation_id is shared by every entry one request writes (refused,
-- held, started, executed...); subject is the secret's ARN (for CreateSecret, whose
-- resource is the collection, the new secret's). Both are covered by the MAC of entries
-- written from now on; db.py then writes the chain's start into meta ('audit_chain'),
-- after a chain-start entry when older (unkeyed) entries exist. Older entries keep ''.
-- Most entries have no approval id, many no cloud request id: those indexes skip them.

ALTER TABLE audit_log ADD COLUMN correlation_id TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN subject TEXT NOT NULL DEFAULT '';

CREATE INDEX audit_by_correlation ON audit_log (correlation_id, seq);
CREATE INDEX audit_by_approval ON audit_log (approval_id, seq) WHERE approval_id != '';
CREATE INDEX audit_by_request ON audit_log (request_id, seq) WHERE request_id != '';
CREATE INDEX audit_by_subject ON audit_log (subject, seq);
