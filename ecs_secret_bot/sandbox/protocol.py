"""The Alibaba Cloud RPC wire protocol as the gateway speaks it: V3 signatures and replies.

Owns: reading an ``ACS3-HMAC-SHA256`` (or ``-SM3``) signed request, checking it with
the SDK's own canonicalisation utilities (``alibabacloud_tea_openapi.utils``) rather
than a hand-written copy, and writing the gateway's JSON error body. Never runs an
action: it answers "who is calling, is the request intact" and nothing more.

Gateway checks, in the order the sandbox applies them (status, code):

* no ``Authorization`` header: 400 ``MissingAuthorization``;
* an ``Authorization`` that is not ``<alg> Credential=..,SignedHeaders=..,Signature=..``,
  or a required header (``host``, ``x-acs-action``, ``x-acs-version``, ``x-acs-date``,
  ``x-acs-signature-nonce``, ``x-acs-content-sha256`` and every other ``x-acs-*`` header
  sent) missing or left out of ``SignedHeaders``:
  400 ``IncompleteSignature``;
* an algorithm other than ``ACS3-HMAC-SHA256`` / ``ACS3-HMAC-SM3``: 400
  ``InvalidSignatureMethod``;
* an AccessKey ID the sandbox does not know: 404 ``InvalidAccessKeyId.NotFound``;
* ``x-acs-date`` not ``yyyy-MM-ddTHH:mm:ssZ``: 400 ``InvalidTimeStamp.Format``; more than
  15 minutes away from the host's real clock: 400 ``InvalidTimeStamp.Expired``;
* ``x-acs-content-sha256`` different from the hash of the body, or a wrong signature:
  400 ``SignatureDoesNotMatch``;
* a nonce already used within the last 15 minutes: 400 ``SignatureNonceUsed``.
"""

from __future__ import annotations

import hmac
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ecs_secret_bot.sandbox.errors import ApiError

__all__ = [
    "DEFAULT_REGION",
    "ECS_VERSION",
    "KMS_VERSION",
    "SignedRequest",
    "Verifier",
    "error_body",
    "host_id",
    "new_request_id",
]

KMS_VERSION = "2016-01-20"
ECS_VERSION = "2014-05-26"
_ALGORITHMS = ("ACS3-HMAC-SHA256", "ACS3-HMAC-SM3")
_REQUIRED_HEADERS = (
    "host",
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
)
DEFAULT_REGION = "cn-hangzhou"
_MAX_SKEW = timedelta(minutes=15)


@dataclass(frozen=True)
class SignedRequest:
    """What the signature check needs from one HTTP request."""

    method: str
    pathname: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes


@dataclass
class _CanonicalRequest:
    """The request-like object ``Utils.get_authorization`` reads."""

    method: str
    pathname: str
    query: dict[str, str]
    headers: dict[str, str]


def new_request_id() -> str:
    """Return a fresh RequestId in the gateway's upper-case UUID form."""
    return str(uuid.uuid4()).upper()


def host_id(product: str, region: str) -> str:
    """Return the HostId an error body names, e.g. ``kms.cn-hangzhou.aliyuncs.com``."""
    return f"{product.lower()}.{region}.aliyuncs.com"


def error_body(error: ApiError, *, request_id: str, product: str, region: str) -> dict[str, Any]:
    """Return the gateway's JSON error body for ``error``."""
    return {
        "RequestId": request_id,
        "HostId": host_id(product, region),
        "Code": error.code,
        "Message": error.message,
        "Recommend": (
            f"https://api.aliyun.com/troubleshoot?q={error.code}&product={product}"
            f"&requestId={request_id}"
        ),
        **error.extra,
    }


class Verifier:
    """Checks V3 signatures against known AccessKey pairs and remembers used nonces."""

    def __init__(
        self,
        access_keys: Mapping[str, str],
        *,
        temporary: Callable[[str], str | None] | None = None,
    ) -> None:
        self.access_keys = dict(access_keys)
        self.temporary = temporary
        """Finds the secret of a temporary (STS) AccessKey, if there are any."""
        self._nonces: OrderedDict[str, float] = OrderedDict()

    def verify(self, request: SignedRequest) -> str:
        """Check ``request``; return the caller's AccessKey ID or raise ApiError."""
        # Imported at the first request, not with the sandbox: the SDK is slow to load, and a
        # process that starts a sandbox and never calls it (``serve --sandbox``) never needs it.
        from alibabacloud_tea_openapi.utils import Utils

        authorization = request.headers.get("authorization", "")
        if not authorization.strip():
            raise ApiError(
                400, "MissingAuthorization", "Authorization is mandatory for this action."
            )
        algorithm, access_key_id, signed_names, signature = _parse_authorization(authorization)
        secret = self.access_keys.get(access_key_id)
        if secret is None and self.temporary is not None:
            secret = self.temporary(access_key_id)
        if secret is None:
            raise ApiError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        _check_signed_headers(request.headers, signed_names)
        _check_date(request.headers["x-acs-date"])
        payload_hash = Utils.hex_encode(Utils.hash(request.body, algorithm)) or ""
        if not hmac.compare_digest(request.headers["x-acs-content-sha256"].lower(), payload_hash):
            raise ApiError(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation: the "
                "x-acs-content-sha256 header does not match the request body.",
            )
        canonical = _CanonicalRequest(
            method=request.method.upper(),
            pathname=request.pathname or "/",
            query=dict(request.query),
            headers={name: request.headers[name] for name in signed_names},
        )
        expected = Utils.get_authorization(
            canonical, algorithm, payload_hash, access_key_id, secret
        )
        expected_signature = expected.rpartition("Signature=")[2]
        if not hmac.compare_digest(expected_signature, signature.lower()):
            raise ApiError(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation.",
            )
        self._use_nonce(request.headers["x-acs-signature-nonce"])
        return access_key_id

    def _use_nonce(self, nonce: str) -> None:
        now = time.monotonic()
        while self._nonces:
            oldest, expires = next(iter(self._nonces.items()))
            if expires > now:
                break
            del self._nonces[oldest]
        if nonce in self._nonces:
            raise ApiError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
        self._nonces[nonce] = now + _MAX_SKEW.total_seconds()


def _parse_authorization(value: str) -> tuple[str, str, list[str], str]:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm.startswith("ACS3-") and algorithm not in _ALGORITHMS:
        raise ApiError(
            400,
            "InvalidSignatureMethod",
            f"Specified signature method {algorithm!r} is not valid; the sandbox checks "
            f"{' and '.join(_ALGORITHMS)}.",
        )
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, field_value = part.strip().partition("=")
        if sep:
            fields[key] = field_value
    if algorithm not in _ALGORITHMS or not all(
        fields.get(key) for key in ("Credential", "SignedHeaders", "Signature")
    ):
        raise ApiError(
            400,
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards: expected "
            "'ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<h1;h2>,Signature=<hex>'.",
        )
    signed_names = fields["SignedHeaders"].split(";")
    return algorithm, fields["Credential"], signed_names, fields["Signature"]


def _check_signed_headers(headers: Mapping[str, str], signed_names: list[str]) -> None:
    signed = set(signed_names)
    needed = [*_REQUIRED_HEADERS]
    needed += [name for name in headers if name.startswith("x-acs-") and name not in needed]
    for name in needed:
        if name not in headers or name not in signed:
            where = "is missing" if name not in headers else "is not in SignedHeaders"
            raise ApiError(
                400,
                "IncompleteSignature",
                f"The request signature does not conform to Aliyun standards: header {name} "
                f"{where}.",
            )
    for name in signed_names:
        if name != name.lower() or name not in headers:
            raise ApiError(
                400,
                "IncompleteSignature",
                f"The request signature does not conform to Aliyun standards: signed header "
                f"{name!r} is not a lower-case header of the request.",
            )


def _check_date(value: str) -> None:
    try:
        stamp = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise ApiError(
            400,
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted: x-acs-date must be "
            "yyyy-MM-ddTHH:mm:ssZ (UTC).",
        ) from None
    if abs(datetime.now(UTC) - stamp) > _MAX_SKEW:
        raise ApiError(
            400,
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired: x-acs-date is more than 15 minutes "
            "away from the server time.",
        )
