"""Everything the bot keeps, in one SQLite file. The only place that writes SQL.

Open it with ``open_database``; then call the plain async functions of one module per
table, each taking the ``Database`` first and returning frozen dataclasses:

    db = await open_database(settings.storage.path, data_key=key)
    row = await pending.record_pending(db, region=..., secret_name=..., ...)
    await audit.append_audit(db, audit.AuditEntry(...), at=now)

``db`` explains the connection and its concurrency story; ``keys`` the data key format, and
``wrapped_key`` the data key kept wrapped by KMS. Never holds a business rule: who may do
what, and when to remind, is ``commands/``'s. Never words advice for people: a refusal is a
``StorageFault`` (``errors``) naming the problem.
"""

from __future__ import annotations

from ecs_secret_bot.storage import (
    app_keys,
    approvals,
    audit,
    db,
    idempotency,
    keys,
    leases,
    payloads,
    pending,
    rotations,
    sweeps,
    wrapped_key,
)
from ecs_secret_bot.storage.db import SCHEMA_VERSION, Database, open_database
from ecs_secret_bot.storage.keys import generate_data_key, parse_data_key

__all__ = [
    "SCHEMA_VERSION",
    "Database",
    "app_keys",
    "approvals",
    "audit",
    "db",
    "generate_data_key",
    "idempotency",
    "keys",
    "leases",
    "open_database",
    "parse_data_key",
    "payloads",
    "pending",
    "rotations",
    "sweeps",
    "wrapped_key",
]
