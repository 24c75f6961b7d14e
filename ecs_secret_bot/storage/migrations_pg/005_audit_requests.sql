-- 005 (PostgreSQL): correlation ids and subjects of audit entries, as
-- migrations/005_audit_requests.sql. A PostgreSQL database is keyed from entry 1: there
-- never were unkeyed entries on this engine.

ALTER TABLE audit_log ADD COLUMN correlation_id TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN subject TEXT NOT NULL DEFAULT '';

CREATE INDEX audit_by_correlation ON audit_log (correlation_id, seq);
CREATE INDEX audit_by_approval ON audit_log (approval_id, seq) WHERE approval_id != '';
CREATE INDEX audit_by_request ON audit_log (request_id, seq) WHERE request_id != '';
CREATE INDEX audit_by_subject ON audit_log (subject, seq);
