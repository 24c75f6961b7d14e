"""The exit codes of ``ecs-secret``, and which error of the core maps to which.

Scripts branch on these, so they are part of the program's contract: extend, never
renumber. ``--help`` prints ``EXIT_CODES_HELP``.
"""

from __future__ import annotations

from enum import IntEnum

from ecs_secret_bot.errors import (
    AccessDenied,
    ApprovalError,
    BotError,
    CloudError,
    ConfigError,
    Conflict,
    InvalidInput,
    NotFound,
    PreflightFailed,
    StorageError,
)

__all__ = ["EXIT_CODES_HELP", "ExitCode", "exit_code_of"]


class ExitCode(IntEnum):
    """What the process tells its caller."""

    OK = 0
    UNEXPECTED = 1
    INVALID = 2
    """Invalid input or usage: a wrong argument, a refused confirmation."""
    DENIED = 3
    """A policy, a guardrail or an approver said no."""
    PENDING = 4
    """Held for approval (or an approval recorded that still waits for others)."""
    CLOUD = 5
    """Alibaba Cloud answered with an error or could not be reached; a rotation failed."""
    STATE = 6
    """Not found, a conflicting state, a failed pre-flight, a closed approval."""
    SETUP = 7
    """The configuration or the database is wrong (an audit log that does not verify too)."""


EXIT_CODES_HELP = """exit codes:
  0  done
  1  unexpected error (a bug: the message has a reference)
  2  invalid input or usage (including an unconfirmed deletion)
  3  denied by a policy, a guardrail or an approval
  4  held for approval: the request waits for approvers (see `approvals`)
  5  cloud error (KMS or ECS refused or could not be reached), or a rotation that failed
  6  not found, conflicting state, failed pre-flight, approval already closed,
     or another refusal the message explains
  7  configuration or database problem (also: an audit log that does not verify)
a --dry-run exits with the code the request would get (0, 3, 4 or 6)."""

_ORDER: tuple[tuple[type[BotError], ExitCode], ...] = (
    (InvalidInput, ExitCode.INVALID),
    (AccessDenied, ExitCode.DENIED),
    (CloudError, ExitCode.CLOUD),
    (NotFound, ExitCode.STATE),
    (Conflict, ExitCode.STATE),
    (PreflightFailed, ExitCode.STATE),
    (ApprovalError, ExitCode.STATE),
    (ConfigError, ExitCode.SETUP),
    (StorageError, ExitCode.SETUP),
)


_STATE_CODES = frozenset(
    {
        "Forbidden.ResourceNotFound",
        "Rejected.ResourceExist",
        "Rejected.ResourceInDeleteWindow",
        "Rejected.ResourceInUse",
    }
)
"""KMS answers about the secret's existence or state, not failures of the cloud."""


def exit_code_of(error: BotError) -> ExitCode:
    """Return the exit code of a known error of the core."""
    if isinstance(error, CloudError) and error.code in _STATE_CODES:
        return ExitCode.STATE
    for kind, code in _ORDER:
        if isinstance(error, kind):
            return code
    return ExitCode.STATE  # another known refusal: its message says why
