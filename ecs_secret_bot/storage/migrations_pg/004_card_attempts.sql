-- 004 (PostgreSQL): failed tries to post an approval card, as migrations/004_card_attempts.sql.

ALTER TABLE approvals
    ADD COLUMN card_attempts INTEGER NOT NULL DEFAULT 0 CHECK (card_attempts >= 0);
