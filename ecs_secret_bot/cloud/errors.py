"""Turn SDK exceptions into ``CloudError``s that say what happened and what to do.

Owns: the KMS/ECS error codes of the fact sheet, and which failures are worth a retry:
throttling always; 5xx, timeouts and dropped connections for idempotent calls; a refused
connection (the request never left) for any call; no other 4xx. Never does: the retrying
itself (``retry``, the one user of this module), or any call. The SDK's exception classes
are imported where a failure is read: a command that calls nothing never loads the SDK.
"""

from __future__ import annotations

import asyncio

from ecs_secret_bot.cloud.permissions import PERMISSION_CODES, explain_denial
from ecs_secret_bot.commands.gateway import CloudIdentity
from ecs_secret_bot.errors import (
    CloudClientError,
    CloudError,
    CloudPermissionDenied,
    CloudThrottled,
    CloudUnavailable,
    NextStep,
    Subcommand,
)

__all__ = ["is_retryable", "to_cloud_error"]

THROTTLING_CODES = frozenset(
    {"Rejected.Throttling", "Throttling", "Throttling.User", "Throttling.Api"}
)

_BOT_CREDENTIALS = (
    "Check the Alibaba Cloud credentials the bot runs with (ALIBABA_CLOUD_ACCESS_KEY_ID / "
    "_SECRET, the profile, or the ECS RAM role) and its clock."
)

# code -> (what happened, what to do); {subject} is the secret or instance named in the call.
_KNOWN: dict[str, tuple[str, NextStep | str]] = {
    "Forbidden.ResourceNotFound": (
        "KMS has no {subject} in this region.",
        NextStep(
            "Check the name and the region (--region); {command} shows what exists.",
            Subcommand("list"),
        ),
    ),
    "Rejected.ResourceExist": (
        "A secret named {subject} already exists in this region.",
        "Choose another name, or rotate the existing one.",
    ),
    "Rejected.ResourceInDeleteWindow": (
        "{subject} is scheduled for deletion, so KMS refuses this.",
        NextStep("Restore it first with {command}, then try again.", Subcommand("restore")),
    ),
    "Rejected.ResourceInUse": (
        "{subject} is not scheduled for deletion, so there is nothing to restore.",
        NextStep("{command} lists what is scheduled for deletion.", Subcommand("pending")),
    ),
    "Rejected.RotationInProgress": (
        "A rotation of {subject} is still in progress.",
        "Wait for it to finish; the channel message will say when it has.",
    ),
    "Rejected.LimitExceeded": (
        "KMS refused: the secret quota of this account is full.",
        "Delete unused secrets or raise the quota in the KMS console.",
    ),
    "InvalidAccessKeyId.NotFound": (
        "Alibaba Cloud does not know the bot's AccessKey.",
        _BOT_CREDENTIALS,
    ),
    "SignatureDoesNotMatch": (
        "Alibaba Cloud rejected the bot's request signature.",
        _BOT_CREDENTIALS,
    ),
    "InvalidTimeStamp.Expired": ("Alibaba Cloud rejected the request time.", _BOT_CREDENTIALS),
    "InvalidCredentials": ("The bot has no usable Alibaba Cloud credentials.", _BOT_CREDENTIALS),
}


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None) or getattr(exc, "statusCode", None)
    try:
        return int(status) if status is not None else None
    except (TypeError, ValueError):
        return None


def _code(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    return "" if code in (None, "None") else str(code)


def _transport(exc: BaseException) -> BaseException | None:
    """Return the network-level cause of an SDK failure, if it was one."""
    import aiohttp  # loaded already: the SDK that raised ``exc`` uses it

    inner = getattr(exc, "inner_exception", None)
    for candidate in (exc, inner, getattr(inner, "__cause__", None)):
        if isinstance(
            candidate, (aiohttp.ClientError, asyncio.TimeoutError, TimeoutError, ConnectionError)
        ):
            return candidate
    return None


def is_retryable(exc: BaseException, *, idempotent: bool) -> tuple[bool, float | None]:
    """Say whether to retry after ``exc``, and any Retry-After the service asked for."""
    import aiohttp
    from alibabacloud_tea_openapi.exceptions import (
        ClientException,
        ServerException,
        ThrottlingException,
    )

    if isinstance(exc, ThrottlingException) or _code(exc) in THROTTLING_CODES:
        retry_after = getattr(exc, "retry_after", None)
        return True, float(retry_after) if retry_after else None
    if isinstance(exc, ServerException) or (_status(exc) or 0) >= 500:
        return idempotent, None
    if isinstance(exc, ClientException):
        return False, None
    transport = _transport(exc)
    if isinstance(transport, aiohttp.ClientConnectorError) and not isinstance(
        transport, aiohttp.ClientSSLError
    ):
        return True, None  # never connected: the request cannot have been executed
    if transport is not None or isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return idempotent, None
    return False, None


def to_cloud_error(
    exc: BaseException, *, action: str, subject: str = "", identity: CloudIdentity | None = None
) -> CloudError:
    """Map an SDK exception to a CloudError carrying code, RequestId and a next step.

    ``identity`` is the role the call ran as (None: the bot's own), named in a denial.
    """
    from alibabacloud_tea_openapi.exceptions import (
        AlibabaCloudException,
        ClientException,
        ServerException,
        ThrottlingException,
    )

    code = _code(exc)
    status = _status(exc)
    request_id = str(getattr(exc, "request_id", "") or "")
    data = getattr(exc, "data", None)
    if not request_id and isinstance(data, dict):
        request_id = str(data.get("RequestId", "") or "")
    what = subject or "the secret"

    def make(cls: type[CloudError], text: str, step: NextStep | str) -> CloudError:
        return cls(
            text,
            next_step=step,
            code=code,
            request_id=request_id,
            status_code=status,
            action=action,
        )

    if code in PERMISSION_CODES:
        denial = data if isinstance(data, dict) else None
        found = explain_denial(denial, action=action, subject=subject, identity=identity)
        return CloudPermissionDenied(
            found.text,
            permission=found.permission,
            next_step=found.next_step,
            code=code,
            request_id=request_id,
            status_code=status,
            action=action,
        )
    if code in _KNOWN:
        message, step = _KNOWN[code]
        text = message.format(subject=what, action=action)
        if code in THROTTLING_CODES:
            return make(CloudThrottled, text, step)
        return make(CloudClientError, text, step)
    if isinstance(exc, ThrottlingException) or code in THROTTLING_CODES:
        return make(
            CloudThrottled,
            f"Alibaba Cloud is throttling {action} calls and kept doing so after retries.",
            "Wait a minute and try again.",
        )
    if isinstance(exc, ServerException) or (status or 0) >= 500:
        return make(
            CloudUnavailable,
            f"Alibaba Cloud failed on {action} ({code or status}).",
            "Try again in a minute; if it persists, check the Alibaba Cloud status page.",
        )
    if isinstance(exc, (ClientException, AlibabaCloudException)):
        detail = _service_message(exc)
        return make(
            CloudClientError,
            f"Alibaba Cloud refused {action}: {detail}"
            if detail
            else f"Alibaba Cloud refused {action}.",
            "Check the request; the error code says what KMS objected to.",
        )
    if _transport(exc) is not None or isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return make(
            CloudUnavailable,
            f"Alibaba Cloud could not be reached for {action} (timeout or broken connection).",
            "Try again in a minute; check the network and the endpoint settings.",
        )
    return make(
        CloudUnavailable,
        f"{action} failed before Alibaba Cloud answered ({type(exc).__name__}).",
        "Try again; if it persists, check the bot's logs and cloud settings.",
    )


def _service_message(exc: BaseException) -> str:
    """Return the service's own Message (never a request echo), trimmed."""
    data = getattr(exc, "data", None)
    message = data.get("Message") if isinstance(data, dict) else None
    return str(message)[:300] if message else ""
