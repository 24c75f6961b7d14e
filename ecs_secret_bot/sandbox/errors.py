"""The one exception the emulated services raise: an API error with its HTTP status.

Handlers raise ``ApiError``; the server turns it into the gateway's JSON error body
(RequestId, HostId, Code, Message, Recommend). The helpers spell the messages the way
the Alibaba Cloud gateway and KMS do, always naming the parameter at fault. No message
ever carries a secret value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ApiError",
    "in_delete_window",
    "invalid_parameter",
    "missing_parameter",
    "secret_not_found",
]


class ApiError(Exception):
    """An error answer: HTTP ``status``, Alibaba Cloud error ``code`` and ``message``.

    ``extra`` holds further fields of the error body, such as a refusal's
    ``AccessDeniedDetail``.
    """

    def __init__(
        self, status: int, code: str, message: str, *, extra: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.extra: Mapping[str, Any] = dict(extra or {})


def invalid_parameter(name: str, reason: str) -> ApiError:
    """Return 400 InvalidParameter naming parameter ``name``."""
    return ApiError(
        400, "InvalidParameter", f"The specified parameter {name!r} is not valid: {reason}"
    )


def missing_parameter(name: str) -> ApiError:
    """Return the gateway's 400 ``Missing<Name>`` for a required parameter left out."""
    return ApiError(400, f"Missing{name}", f"{name} is mandatory for this action.")


def secret_not_found(name: str) -> ApiError:
    """Return 404 Forbidden.ResourceNotFound for secret ``name``."""
    return ApiError(404, "Forbidden.ResourceNotFound", f"The secret {name!r} does not exist.")


def in_delete_window(name: str) -> ApiError:
    """Return 409 Rejected.ResourceInDeleteWindow for secret ``name``."""
    return ApiError(
        409,
        "Rejected.ResourceInDeleteWindow",
        f"The secret {name!r} is scheduled for deletion; restore it first (RestoreSecret).",
    )
