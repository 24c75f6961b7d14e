-- 004: how many times an approval request's card could not be posted, so that the duty
-- that posts unposted cards gives up after a bounded number of tries (and says so) instead
-- of retrying one channel forever.

ALTER TABLE approvals
    ADD COLUMN card_attempts INTEGER NOT NULL DEFAULT 0 CHECK (card_attempts >= 0);
