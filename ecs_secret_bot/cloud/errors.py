"""Turn SDK exceptions into ``CloudError``s that name the cause and the fix.

Owns: what each error code family means (the codes of the fact sheet and the API reference,
``docs/alibaba-cloud.md``), and which failures are worth a retry:

- throttling (``Throttling*``, ECS ``Throttling.Resource`` included, ``Rejected.Throttling``,
  HTTP 429, the SDK's ``ThrottlingException``): always, the service refused before acting;
- ``ServiceUnavailable*``, 5xx, read timeouts and broken connections: only for calls safe to
  repeat (``idempotent``), since the request may have arrived;
- a connection never made (refused, DNS, connect timeout): always, nothing was sent;
- anything else (another 4xx, a TLS failure): never.

Messages say what happened and what to check, for any front end (next steps are data: a
``NextStep`` naming a ``Subcommand`` where one helps): permission (``permissions`` words
it: the RAM action and the policy line; the message adds what the service's
AccessDeniedDetail says), credentials, the clock, a quota or limit, a wrong endpoint, an
unreachable endpoint (named, with the cause: refused, DNS, TLS, timeout). Never does: the
retrying itself (``retry``, the one user of this module), or any call. The SDK's exception
classes (and aiohttp's) are imported where a failure is read: a command that calls nothing
never loads the SDK.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ecs_secret_bot.cloud.permissions import PERMISSION_CODES, explain_denial
from ecs_secret_bot.commands.gateway import CloudIdentity
from ecs_secret_bot.commands.names import short_secret_name
from ecs_secret_bot.errors import (
    CloudClientError,
    CloudError,
    CloudPermissionDenied,
    CloudThrottled,
    CloudUnavailable,
    NextStep,
    Subcommand,
)

__all__ = ["is_retryable", "is_throttling", "to_cloud_error"]

_CREDENTIALS = (
    "Check the Alibaba Cloud credentials the bot runs with (ALIBABA_CLOUD_ACCESS_KEY_ID and "
    "_SECRET, ALIBABA_CLOUD_SECURITY_TOKEN for STS, the profile file, or the ECS RAM role): "
    "that the AccessKey exists, is active and belongs to this account, and that a security "
    "token has not expired."
)
_CLOCK = (
    "Synchronise the clock of the host the bot runs on (NTP): Alibaba Cloud refuses requests "
    "more than 15 minutes away from its time."
)
_CLOCK_CODES = frozenset({"InvalidTimeStamp.Expired", "IllegalTimestamp"})
_CREDENTIAL_PREFIXES = ("InvalidAccessKeyId", "InvalidSecurityToken")


@dataclass(frozen=True)
class _Call:
    """What a message may name about the failed call."""

    action: str
    subject: str
    service: str
    endpoint: str

    @property
    def what(self) -> str:
        return self.subject or "the secret"


_Meaning = tuple[type[CloudError], str, NextStep | str]
"""The error class, what happened, what to do."""


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None) or getattr(exc, "statusCode", None)
    try:
        return int(status) if status is not None else None
    except (TypeError, ValueError):
        return None


def _code(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    return "" if code in (None, "None") else str(code)


def is_throttling(exc: BaseException) -> bool:
    """Say whether ``exc`` is the service throttling the caller (any of its spellings)."""
    from alibabacloud_tea_openapi.exceptions import ThrottlingException

    code = _code(exc)
    return (
        isinstance(exc, ThrottlingException)
        or code == "Rejected.Throttling"
        or code.startswith("Throttling")
        or _status(exc) == 429
    )


def _unavailable(exc: BaseException) -> bool:
    from alibabacloud_tea_openapi.exceptions import ServerException

    return (
        isinstance(exc, ServerException)
        or (_status(exc) or 0) >= 500
        or _code(exc).startswith("ServiceUnavailable")
    )


def _transport(exc: BaseException) -> BaseException | None:
    """Return the network-level cause of an SDK failure, if it was one.

    The SDK wraps it: ``UnretryableException.inner_exception`` is a ``RetryError`` raised
    while handling the aiohttp error, which is therefore its ``__context__``.
    """
    import aiohttp  # loaded already: the SDK that raised ``exc`` uses it

    inner = getattr(exc, "inner_exception", None)
    candidates = (
        exc,
        inner,
        getattr(inner, "__cause__", None),
        getattr(inner, "__context__", None),
        exc.__cause__,
        exc.__context__,
    )
    for candidate in candidates:
        if isinstance(
            candidate, (aiohttp.ClientError, asyncio.TimeoutError, TimeoutError, ConnectionError)
        ):
            return candidate
    return None


def _never_sent(transport: BaseException | None) -> bool:
    """Say whether the connection failed before any request could be sent."""
    import aiohttp

    if isinstance(transport, aiohttp.ClientSSLError):
        return False
    return isinstance(transport, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError))


def is_retryable(exc: BaseException, *, idempotent: bool) -> tuple[bool, float | None]:
    """Say whether to retry after ``exc``, and any Retry-After the service asked for."""
    import aiohttp
    from alibabacloud_tea_openapi.exceptions import ClientException

    if is_throttling(exc):
        retry_after = getattr(exc, "retry_after", None)
        return True, float(retry_after) if retry_after else None
    if _unavailable(exc):
        return idempotent, None
    if isinstance(exc, ClientException):
        return False, None
    transport = _transport(exc)
    if _never_sent(transport):
        return True, None
    if isinstance(transport, aiohttp.ClientSSLError):
        return False, None
    if transport is not None:
        return idempotent, None
    return False, None


def _cause(transport: BaseException) -> str:
    """Say in a few words why the connection failed."""
    import aiohttp

    if isinstance(transport, aiohttp.ClientConnectorCertificateError):
        return "the TLS certificate was not accepted"
    if isinstance(transport, aiohttp.ClientSSLError):
        return "the TLS handshake failed (is the endpoint's scheme, https or http, right?)"
    if isinstance(transport, aiohttp.ClientConnectorDNSError):
        return "its host name does not resolve (DNS)"
    if isinstance(transport, aiohttp.ConnectionTimeoutError):
        return "the connection timed out"
    if isinstance(transport, (aiohttp.SocketTimeoutError, asyncio.TimeoutError, TimeoutError)):
        return "it did not answer in time"
    if isinstance(transport, aiohttp.ClientConnectorError):
        os_error = transport.os_error
        if isinstance(os_error, ConnectionRefusedError):
            return "the connection was refused"
        return f"the connection failed ({os_error.strerror or os_error})"
    if isinstance(transport, aiohttp.ServerDisconnectedError):
        return "it closed the connection without answering"
    return f"the connection broke ({type(transport).__name__})"


def _reach(call: _Call) -> str:
    return f" at {call.endpoint}" if call.endpoint else ""


def _where_to_look(call: _Call) -> str:
    key = f"{call.service}_endpoint" if call.service else "kms_endpoint / ecs_endpoint"
    return (
        f"Check that {call.endpoint or 'the endpoint'} is right for the region ([cloud] "
        f"{key} and network in the configuration) and reachable from the bot's host."
    )


def _by_code(code: str, call: _Call) -> _Meaning | None:
    """Return the meaning of a known code, for this call, or None."""
    if code == "InvalidCredentials":  # the SDK's own: no provider of the chain had any
        return CloudClientError, "The bot found no Alibaba Cloud credentials.", _CREDENTIALS
    if code.startswith(_CREDENTIAL_PREFIXES) or code == "SignatureDoesNotMatch":
        return CloudClientError, "Alibaba Cloud did not accept the bot's credentials.", _CREDENTIALS
    if code in _CLOCK_CODES:
        return CloudClientError, "Alibaba Cloud says the request's time is wrong.", _CLOCK
    if code.endswith("NotSupportedEndpoint"):
        return (
            CloudClientError,
            f"The endpoint{_reach(call)} does not serve the region of this call.",
            _where_to_look(call),
        )
    meanings: dict[str, Callable[[], _Meaning]] = {
        "Forbidden.ResourceNotFound": lambda: _not_found(call),
        "Rejected.ResourceExist": lambda: (
            CloudClientError,
            f"A secret named {call.what} already exists in this region.",
            "Choose another name, or rotate the existing secret.",
        ),
        "Rejected.ResourceInDeleteWindow": lambda: (
            CloudClientError,
            f"{call.what} is scheduled for deletion, so KMS refuses this.",
            NextStep("Restore it first with {command}, then try again.", _about("restore", call)),
        ),
        "Rejected.ResourceInUse": lambda: _in_use(call),
        "Rejected.LimitExceeded": lambda: (
            CloudClientError,
            f"KMS refused {call.action}: a quota or limit was reached (such as the number of "
            "secrets of the account, or 50 rotations of one secret in an hour).",
            "Wait before trying again, or look at the KMS quotas of the account in the console.",
        ),
    }
    meaning = meanings.get(code)
    return meaning() if meaning else None


def _not_found(call: _Call) -> _Meaning:
    if call.action == "CreateSecret":
        return (
            CloudClientError,
            "KMS could not find the KMS instance or the key the new secret is to be kept in.",
            "Check dkms_instance_id and encryption_key_id for this region in [cloud] (or "
            "[cloud.region_defaults.<region>]): both must exist in this region, the key in "
            "that instance.",
        )
    return (
        CloudClientError,
        f"KMS has no {call.what} in this region.",
        NextStep(
            "Check the name and the region (--region); {command} shows what exists.",
            Subcommand("list"),
        ),
    )


def _in_use(call: _Call) -> _Meaning:
    if call.action == "RestoreSecret":
        return (
            CloudClientError,
            f"{call.what} is not scheduled for deletion, so there is nothing to restore.",
            NextStep("{command} lists what is scheduled for deletion.", Subcommand("pending")),
        )
    return (
        CloudClientError,
        f"KMS refused {call.action}: {call.what} is in use, for example by a change still "
        "being applied to its instance.",
        NextStep(
            "Wait for that change to finish ({command} says where it stands), then try again.",
            _about("show", call),
        ),
    )


def _about(name: str, call: _Call) -> Subcommand:
    """Return subcommand ``name`` about the secret of the call (when the call named one)."""
    return Subcommand(name, (short_secret_name(call.subject),) if call.subject else ())


def to_cloud_error(
    exc: BaseException,
    *,
    action: str,
    subject: str = "",
    identity: CloudIdentity | None = None,
    service: str = "",
    endpoint: str = "",
) -> CloudError:
    """Map an SDK exception to a CloudError carrying code, RequestId and a next step.

    ``identity`` is the role the call ran as (None: the bot's own), named in a denial;
    ``service`` and ``endpoint`` say where the call went.
    """
    from alibabacloud_tea_openapi.exceptions import AlibabaCloudException, ClientException

    code = _code(exc)
    status = _status(exc)
    request_id = str(getattr(exc, "request_id", "") or "")
    data = getattr(exc, "data", None)
    if not request_id and isinstance(data, dict):
        request_id = str(data.get("RequestId", "") or "")
    detail = getattr(exc, "access_denied_detail", None)
    if not isinstance(detail, Mapping) and isinstance(data, dict):
        detail = data.get("AccessDeniedDetail")
    detail = detail if isinstance(detail, Mapping) and detail else None
    call = _Call(action=action, subject=subject, service=service, endpoint=endpoint)

    def make(meaning: _Meaning) -> CloudError:
        cls, text, step = meaning
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
            found.text + _denied_detail(detail),
            permission=found.permission,
            next_step=found.next_step,
            code=code,
            request_id=request_id,
            status_code=status,
            action=action,
        )
    known = _by_code(code, call)
    if known is not None:
        return make(known)
    if is_throttling(exc):
        return make(
            (
                CloudThrottled,
                f"Alibaba Cloud is throttling {action} calls and kept doing so after retries.",
                "Wait a minute and try again.",
            )
        )
    if _unavailable(exc):
        return make(
            (
                CloudUnavailable,
                f"Alibaba Cloud failed on {action} ({code or status}).",
                "Try again in a minute; if it persists, look at the Alibaba Cloud status page.",
            )
        )
    if isinstance(exc, (ClientException, AlibabaCloudException)):
        detail_text = _service_message(exc)
        return make(
            (
                CloudClientError,
                f"Alibaba Cloud refused {action}: {detail_text}"
                if detail_text
                else f"Alibaba Cloud refused {action}.",
                "The error code says what the service objected to.",
            )
        )
    transport = _transport(exc)
    if transport is not None:
        return make(
            (
                CloudUnavailable,
                f"Alibaba Cloud could not be reached{_reach(call)} for {action}: "
                f"{_cause(transport)}.",
                _where_to_look(call),
            )
        )
    return make(
        (
            CloudUnavailable,
            f"{action} failed before Alibaba Cloud answered{_reach(call)} "
            f"({type(exc).__name__}: {str(exc)[:200]}).",
            _where_to_look(call),
        )
    )


def _denied_detail(detail: Mapping[str, object] | None) -> str:
    """Say what the service's AccessDeniedDetail adds (the policy type, why it denied)."""
    keys = ("NoPermissionType", "PolicyType", "AuthPrincipalDisplayName")
    facts = "; ".join(f"{key} {detail[key]}" for key in keys if detail and detail.get(key))
    return f" (AccessDeniedDetail: {facts})" if facts else ""


def _service_message(exc: BaseException) -> str:
    """Return the service's own Message (never a request echo), trimmed."""
    data = getattr(exc, "data", None)
    message = data.get("Message") if isinstance(data, dict) else None
    return str(message)[:300] if message else ""
