"""Secret names and resource ARNs, as KMS and RAM spell them.

Users may type ``web-3-root`` or ``acs/ecs/web-3-root``: both are the same dynamic ECS
secret, whose KMS name must start with ``acs/ecs/``. Policies, approvals and the audit use
the full name and the ARN ``acs:kms:<region>:<account>:secret/<full name>``.
"""

from __future__ import annotations

import re

from ecs_secret_bot.errors import InvalidInput

__all__ = [
    "ECS_PREFIX",
    "MAX_NAME_LENGTH",
    "collection_arn",
    "full_secret_name",
    "secret_arn",
    "short_secret_name",
]

ECS_PREFIX = "acs/ecs/"
MAX_NAME_LENGTH = 192
_ALLOWED = re.compile(r"^[A-Za-z0-9_/+=.@-]+$")


def full_secret_name(name: str, *, field: str = "name") -> str:
    """Return the KMS name of an ECS secret (with ``acs/ecs/``), or raise InvalidInput."""
    text = name.strip() if isinstance(name, str) else ""
    if not text:
        raise InvalidInput(
            "A secret name is needed.", field=field, next_step="Write one like web-3-root."
        )
    full = text if text.startswith(ECS_PREFIX) else ECS_PREFIX + text
    if full == ECS_PREFIX or full.endswith("/"):
        raise InvalidInput(
            f"{text!r} is not a secret name: it needs a name after {ECS_PREFIX!r}.",
            field=field,
            next_step="Write one like web-3-root.",
        )
    if not _ALLOWED.match(full):
        bad = sorted({ch for ch in full if not _ALLOWED.match(ch)})
        shown = " ".join(repr(ch) for ch in bad)
        raise InvalidInput(
            f"{text!r} is not a valid secret name: KMS does not allow {shown} in names.",
            field=field,
            next_step="Use letters, digits and _ / + = . @ - only.",
        )
    if len(full) > MAX_NAME_LENGTH:
        raise InvalidInput(
            f"The secret name is {len(full)} characters long with its {ECS_PREFIX!r} prefix; "
            f"KMS allows {MAX_NAME_LENGTH}.",
            field=field,
            next_step="Choose a shorter name.",
        )
    return full


def short_secret_name(full_name: str) -> str:
    """Return the name without ``acs/ecs/``, as messages show it."""
    return full_name[len(ECS_PREFIX) :] if full_name.startswith(ECS_PREFIX) else full_name


def secret_arn(region: str, account_id: str, full_name: str) -> str:
    """Return the RAM resource of one secret."""
    return f"acs:kms:{region}:{account_id}:secret/{full_name}"


def collection_arn(region: str, account_id: str) -> str:
    """Return the RAM resource of the secret collection (CreateSecret, ListSecrets)."""
    return f"acs:kms:{region}:{account_id}:secret"
