-- 002 (PostgreSQL): named leases, as migrations/002_leases.sql.

CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    acquired_at TEXT COLLATE "C" NOT NULL,
    renewed_at  TEXT COLLATE "C" NOT NULL,
    expires_at  TEXT COLLATE "C" NOT NULL
);
