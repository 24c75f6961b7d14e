"""The one error tree of the core: what went wrong, in words the asker can act on.

Raised in ``commands/`` (and by the configuration loader); translated for people only at
the edges (``bot/errors.py``, the command line). No message here ever carries a secret
value: messages name secrets, instances, fields and cloud error codes, never data.

    BotError                      user_message, next_step
    ├── ConfigError               file, key
    ├── InvalidInput              field
    ├── AccessDenied              reason (the deciding statement or guardrail)
    ├── NotFound
    ├── Conflict                  (already exists, rotation in progress, not pending deletion)
    ├── PreflightFailed           instance_id, check
    ├── ApprovalError
    │   ├── ApprovalExpired
    │   └── ApprovalClosed
    ├── StorageError              path
    └── CloudError                code, request_id, status_code, action
        ├── CloudClientError      4xx: the request was wrong; never retried
        ├── CloudThrottled        throttled; retried, then given up
        └── CloudUnavailable      5xx, timeout, connection; retried, then given up
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "AccessDenied",
    "ApprovalClosed",
    "ApprovalError",
    "ApprovalExpired",
    "BotError",
    "CloudClientError",
    "CloudError",
    "CloudThrottled",
    "CloudUnavailable",
    "ConfigError",
    "Conflict",
    "InvalidInput",
    "NotFound",
    "PreflightFailed",
    "StorageError",
]


class BotError(Exception):
    """A known failure whose message goes back to the person who asked."""

    def __init__(self, user_message: str, *, next_step: str = "") -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.next_step = next_step

    def __str__(self) -> str:
        if not self.next_step:
            return self.user_message
        joint = " " if self.user_message.rstrip().endswith((".", "!", "?", ":")) else ". "
        return f"{self.user_message}{joint}{self.next_step}"


class ConfigError(BotError):
    """The configuration file is unreadable or says something invalid."""

    def __init__(self, user_message: str, *, file: str = "", key: str = "", next_step: str = ""):
        where = file
        if key:
            where = f"{file}: [{key}]" if file else f"[{key}]"
        super().__init__(f"{where}: {user_message}" if where else user_message, next_step=next_step)
        self.file = file
        self.key = key

    @classmethod
    def unknown_key(
        cls, key: str, *, table: str, allowed: Iterable[str], file: str, hint: str = ""
    ) -> ConfigError:
        """Return the error for ``key`` in ``table`` (a dotted path), which takes ``allowed``."""
        return cls(
            f"unknown key {key!r}",
            file=file,
            key=f"{table}.{key}" if table else key,
            next_step=f"The keys allowed here are: {', '.join(sorted(allowed))}." + hint,
        )


class InvalidInput(BotError):
    """A field the user gave is wrong; ``field`` names it (a modal block id or an argument)."""

    def __init__(self, user_message: str, *, field: str = "", next_step: str = "") -> None:
        super().__init__(user_message, next_step=next_step)
        self.field = field


class AccessDenied(BotError):
    """The policy said no; ``reason`` names the deciding statement, guardrail or absence."""

    def __init__(self, user_message: str, *, reason: str = "", next_step: str = "") -> None:
        super().__init__(user_message, next_step=next_step)
        self.reason = reason


class NotFound(BotError):
    """The secret, instance or approval does not exist (where the asker looked)."""


class Conflict(BotError):
    """The thing exists but is in a state that forbids the request."""


class PreflightFailed(BotError):
    """The instance cannot take a rotation now (not found, not Running, agent offline)."""

    def __init__(
        self, user_message: str, *, instance_id: str = "", check: str = "", next_step: str = ""
    ) -> None:
        super().__init__(user_message, next_step=next_step)
        self.instance_id = instance_id
        self.check = check


class ApprovalError(BotError):
    """An approval request cannot take this step."""


class ApprovalExpired(ApprovalError):
    """The approval request passed its expiry before it completed."""


class ApprovalClosed(ApprovalError):
    """The approval request was already decided, executed or withdrawn."""


class StorageError(BotError):
    """The database cannot be opened, created, migrated or decrypted."""

    def __init__(self, user_message: str, *, path: str = "", next_step: str = "") -> None:
        super().__init__(user_message, next_step=next_step)
        self.path = path


class CloudError(BotError):
    """Alibaba Cloud answered with an error, or could not be reached."""

    def __init__(
        self,
        user_message: str,
        *,
        code: str = "",
        request_id: str = "",
        status_code: int | None = None,
        action: str = "",
        next_step: str = "",
    ) -> None:
        super().__init__(user_message, next_step=next_step)
        self.code = code
        self.request_id = request_id
        self.status_code = status_code
        self.action = action


class CloudClientError(CloudError):
    """A 4xx answer: the request itself was refused; retrying will not help."""


class CloudThrottled(CloudError):
    """The service kept throttling after the bounded retries."""


class CloudUnavailable(CloudError):
    """A 5xx, a timeout or a broken connection persisted after the bounded retries."""
