"""The one error tree: what went wrong, as facts and data each front end words.

Raised in ``commands/`` (and by the configuration loader); worded for people only at the
edges (``bot/errors.py``, ``terminal/report.py``). No message here ever carries a secret
value: messages name secrets, instances, fields and cloud error codes, never data.

    Exception
    ├── BotError                      user_message, next_step (a NextStep)
    │   ├── ConfigError               file, key
    │   ├── InvalidInput              field
    │   ├── AccessDenied              reason (the deciding statement or guardrail)
    │   ├── NotFound
    │   ├── Conflict                  (already exists, not pending deletion)
    │   │   └── RotationInProgress    secret_name
    │   ├── PreflightFailed           instance_id, check
    │   ├── ApprovalError
    │   │   ├── ApprovalExpired
    │   │   └── ApprovalClosed
    │   ├── StorageError              path
    │   └── CloudError                code, request_id, status_code, action
    │       ├── CloudClientError      4xx: the request was wrong; never retried
    │       │   └── CloudPermissionDenied   permission: the RAM action the identity lacks
    │       ├── CloudThrottled        throttled; retried, then given up
    │       └── CloudUnavailable      5xx, timeout, connection; retried, then given up
    └── StorageFault                  problem, path: storage's own facts, never advice
        └── AlreadyRecorded           an active row for the same thing exists

A next step is data: ``NextStep`` is prose, and where the person should run a subcommand,
a ``Subcommand`` that each front end spells its own way (a slash command in Slack, a
command line at a terminal, an object in the terminal's JSON).

``StorageFault`` is not a ``BotError``: ``storage/`` states what it found (which problem,
which path) and never what a person should do about it, which names the configuration and
the environment. ``storage_error`` words a fault; ``commands/`` call it, or word a fault in
their own terms, and a front end's one reporter calls ``known_error`` for what reaches it
(a database that cannot be opened at start-up).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "COMMAND_SLOT",
    "AccessDenied",
    "AlreadyRecorded",
    "ApprovalClosed",
    "ApprovalError",
    "ApprovalExpired",
    "BotError",
    "CloudClientError",
    "CloudError",
    "CloudPermissionDenied",
    "CloudThrottled",
    "CloudUnavailable",
    "ConfigError",
    "Conflict",
    "InvalidInput",
    "NextStep",
    "NotFound",
    "PreflightFailed",
    "RotationInProgress",
    "StorageError",
    "StorageFault",
    "StorageProblem",
    "Subcommand",
    "known_error",
    "storage_error",
]

COMMAND_SLOT = "{command}"
"""Where a ``NextStep``'s subcommand goes in its prose."""


@dataclass(frozen=True)
class Subcommand:
    """A subcommand the person can run next, with its arguments (``restore web-3-root``)."""

    name: str
    args: tuple[str, ...] = ()

    @property
    def words(self) -> tuple[str, ...]:
        """Return the subcommand and its arguments, as a command line has them."""
        return (self.name, *self.args)


@dataclass(frozen=True)
class NextStep:
    """What the person can do next: prose, with ``{command}`` where ``command`` goes.

    Example::

        NextStep("Restore it first ({command}).", Subcommand("restore", ("web-3-root",)))
    """

    text: str = ""
    command: Subcommand | None = None

    def __post_init__(self) -> None:
        if self.command is not None and COMMAND_SLOT not in self.text:
            raise ValueError(f"a next step with a command needs {COMMAND_SLOT} in its text")

    def __bool__(self) -> bool:
        return bool(self.text)

    def worded(self, spell: Callable[[Subcommand], str]) -> str:
        """Return the prose, with the subcommand spelled by ``spell`` (a front end's syntax)."""
        if self.command is None:
            return self.text
        return self.text.replace(COMMAND_SLOT, spell(self.command))


def _plain(command: Subcommand) -> str:
    """Spell a subcommand in no front end's syntax: for logs, never for people."""
    return "`" + " ".join(command.words) + "`"


class BotError(Exception):
    """A known failure whose message goes back to the person who asked."""

    def __init__(self, user_message: str, *, next_step: NextStep | str = "") -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.next_step = next_step if isinstance(next_step, NextStep) else NextStep(next_step)

    def __str__(self) -> str:
        if not self.next_step:
            return self.user_message
        joint = " " if self.user_message.rstrip().endswith((".", "!", "?", ":")) else ". "
        return f"{self.user_message}{joint}{self.next_step.worded(_plain)}"


class ConfigError(BotError):
    """The configuration file is unreadable or says something invalid."""

    def __init__(
        self, user_message: str, *, file: str = "", key: str = "", next_step: NextStep | str = ""
    ):
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

    def __init__(
        self, user_message: str, *, field: str = "", next_step: NextStep | str = ""
    ) -> None:
        super().__init__(user_message, next_step=next_step)
        self.field = field


class AccessDenied(BotError):
    """The policy said no; ``reason`` names the deciding statement, guardrail or absence."""

    def __init__(
        self, user_message: str, *, reason: str = "", next_step: NextStep | str = ""
    ) -> None:
        super().__init__(user_message, next_step=next_step)
        self.reason = reason


class NotFound(BotError):
    """The secret, instance or approval does not exist (where the asker looked)."""


class Conflict(BotError):
    """The thing exists but is in a state that forbids the request."""


class RotationInProgress(Conflict):
    """The secret already has a rotation in flight (the bot's record of it)."""

    def __init__(
        self, user_message: str, *, secret_name: str, next_step: NextStep | str = ""
    ) -> None:
        super().__init__(user_message, next_step=next_step)
        self.secret_name = secret_name


class PreflightFailed(BotError):
    """The instance cannot take a rotation now (not found, not Running, agent offline)."""

    def __init__(
        self,
        user_message: str,
        *,
        instance_id: str = "",
        check: str = "",
        next_step: NextStep | str = "",
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

    def __init__(
        self, user_message: str, *, path: str = "", next_step: NextStep | str = ""
    ) -> None:
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
        next_step: NextStep | str = "",
    ) -> None:
        super().__init__(user_message, next_step=next_step)
        self.code = code
        self.request_id = request_id
        self.status_code = status_code
        self.action = action


class CloudClientError(CloudError):
    """A 4xx answer: the request itself was refused; retrying will not help."""


class CloudPermissionDenied(CloudClientError):
    """A 403: RAM does not let the bot's identity (or the role it acts as) make the call."""

    def __init__(
        self,
        user_message: str,
        *,
        permission: str = "",
        code: str = "",
        request_id: str = "",
        status_code: int | None = None,
        action: str = "",
        next_step: NextStep | str = "",
    ) -> None:
        super().__init__(
            user_message,
            code=code,
            request_id=request_id,
            status_code=status_code,
            action=action,
            next_step=next_step,
        )
        self.permission = permission
        """The RAM action that was missing, e.g. ``kms:RotateSecret``."""


class CloudThrottled(CloudError):
    """The service kept throttling after the bounded retries."""


class CloudUnavailable(CloudError):
    """A 5xx, a timeout or a broken connection persisted after the bounded retries."""


class StorageProblem(StrEnum):
    """What storage found wrong, as a kind the layers above word."""

    NOT_A_FILE = "not_a_file"  # the database path is a folder or not a regular file
    FILE_NOT_WRITABLE = "file_not_writable"
    FOLDER_MISSING = "folder_missing"
    FOLDER_NOT_A_FOLDER = "folder_not_a_folder"
    FOLDER_NOT_WRITABLE = "folder_not_writable"  # cannot take the file, its -wal or -shm
    SQLITE_REFUSED = "sqlite_refused"  # not a database, damaged, locked, read-only
    FOREIGN = "foreign"  # another program's database, or tables that are not the bot's
    NEWER_SCHEMA = "newer_schema"
    DATABASE_MISSING = "database_missing"  # missing or empty beside its data key file
    NO_WAL = "no_wal"
    MIGRATION_FAILED = "migration_failed"
    KEY_MALFORMED = "key_malformed"  # not 32 bytes in hex or base64
    KEY_FILE_MISSING = "key_file_missing"
    KEY_FILE_NOT_A_FILE = "key_file_not_a_file"
    KEY_FILE_EXPOSED = "key_file_exposed"  # other users can read the key file
    KEY_FILE_UNREADABLE = "key_file_unreadable"
    KEY_FILE_UNWRITABLE = "key_file_unwritable"
    WRONG_KEY = "wrong_key"
    PAYLOAD_UNREADABLE = "payload_unreadable"  # altered, or moved from another approval
    UNREACHABLE = "unreachable"  # the database server cannot be reached, or went away
    SERVER_REFUSED = "server_refused"  # login refused, no such database, no permission
    ALREADY_RECORDED = "already_recorded"


class StorageFault(Exception):
    """Storage could not do what it was asked; ``problem`` says why, in no one's words.

    ``str()`` states the facts (which file, what SQLite said), never what to do.
    """

    def __init__(self, detail: str, *, problem: StorageProblem, path: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.problem = problem
        self.path = path


class AlreadyRecorded(StorageFault):
    """An active row for the same thing exists; storage's subclasses carry that row."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, problem=StorageProblem.ALREADY_RECORDED)


_CHANGE_PATH = "or change [storage] path in the configuration."
_HOW_TO_MAKE_A_KEY = (
    "A data key is 32 random bytes in base64 or hex, for example the output of "
    "`openssl rand -base64 32`."
)
_ADVICE: dict[StorageProblem, str] = {
    StorageProblem.NOT_A_FILE: "Point [storage] path at a file name.",
    StorageProblem.FILE_NOT_WRITABLE: f"Fix its mode, {_CHANGE_PATH}",
    StorageProblem.FOLDER_MISSING: f"Create the folder, {_CHANGE_PATH}",
    StorageProblem.FOLDER_NOT_A_FOLDER: f"Use a path inside a folder, {_CHANGE_PATH}",
    StorageProblem.FOLDER_NOT_WRITABLE: f"Make the folder writable, {_CHANGE_PATH}",
    StorageProblem.SQLITE_REFUSED: (
        "Point [storage] path at the bot's database file, or move this file away."
    ),
    StorageProblem.FOREIGN: "Point [storage] path at a new file or at the bot's own database.",
    StorageProblem.NEWER_SCHEMA: "Upgrade ecs-secret-bot, or point [storage] at another database.",
    StorageProblem.DATABASE_MISSING: "Restore it from a backup, or start an empty one with --init.",
    StorageProblem.MIGRATION_FAILED: "Restore the database from backup, or report the problem.",
    StorageProblem.KEY_MALFORMED: _HOW_TO_MAKE_A_KEY,
    StorageProblem.KEY_FILE_MISSING: (
        "Restore the key file from backup, or set ECS_SECRET_BOT_DATA_KEY to the key the "
        "database was created with."
    ),
    StorageProblem.KEY_FILE_NOT_A_FILE: "Point [storage] key_file at the key file.",
    StorageProblem.KEY_FILE_UNWRITABLE: (
        "Make its folder writable, set [storage] key_file, or set ECS_SECRET_BOT_DATA_KEY."
    ),
    StorageProblem.WRONG_KEY: (
        "Use the original data key (key file or ECS_SECRET_BOT_DATA_KEY); a new key cannot "
        "read what the old one encrypted."
    ),
    StorageProblem.PAYLOAD_UNREADABLE: "Ask the requester to submit the request again.",
    StorageProblem.UNREACHABLE: "Check that PostgreSQL runs and is reachable, then try again.",
    StorageProblem.SERVER_REFUSED: (
        "Check [storage] url, the password (PGPASSWORD, PGPASSFILE or [storage] "
        "password_file) and that the database exists and the user may use it."
    ),
}


def storage_error(fault: StorageFault) -> BotError:
    """Word a storage fault for people: its facts, and what to do about them."""
    if isinstance(fault, AlreadyRecorded):
        return Conflict(fault.detail)
    if fault.problem is StorageProblem.KEY_FILE_EXPOSED:
        step = f"Run `chmod 600 {fault.path}`."
    else:
        step = _ADVICE.get(fault.problem, "")
    return StorageError(fault.detail, path=fault.path, next_step=step)


def known_error(exc: BaseException) -> BotError | None:
    """Return ``exc`` as a known error to tell a person, or None when it is a bug."""
    if isinstance(exc, BotError):
        return exc
    if isinstance(exc, StorageFault):
        return storage_error(exc)
    return None
