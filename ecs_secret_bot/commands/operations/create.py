"""Create a dynamic ECS secret that hosts an existing credential of one user on one instance.

Authorized as ``kms:CreateSecret`` on the region's secret collection, with
``kms:SecretSubType`` (Password or SSHKey). Everything the user typed is checked before any
call: the name (with or without ``acs/ecs/``), region, instance id, user, kind, the initial
value (the user's *current* password, or current PEM RSA private key from which the public
key is derived), automatic rotation and its interval, description, tags, KMS instance and
key (defaulting from the configuration). The instance is pre-flighted (exists, Running,
Cloud Assistant online) before CreateSecret.

The initial value is a secret: it travels only in ``Plan.value`` / ``Execution.value``
(encrypted in storage while an approval waits) and leaves only as CreateSecret's
``SecretData``. Never logs it, never puts it in a message, a parameter or a result.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval.requests import ActionRequest
from ecs_secret_bot.commands.cloud_step import run_cloud_step
from ecs_secret_bot.commands.core import Core, SecretRef
from ecs_secret_bot.commands.durations import format_duration
from ecs_secret_bot.commands.gateway import CreateSecretCall
from ecs_secret_bot.commands.names import short_secret_name
from ecs_secret_bot.commands.operations.rotation_policy import DEFAULT_INTERVAL, parse_interval
from ecs_secret_bot.commands.outcomes import CreateResult, DryRunReport, HeldForApproval
from ecs_secret_bot.commands.pipeline import (
    Execution,
    Plan,
    executor,
    refuse_early,
    run_mutation,
)
from ecs_secret_bot.commands.preflight import run_preflight
from ecs_secret_bot.commands.requests import CreateRequest
from ecs_secret_bot.commands.values import (
    PasswordValue,
    SecretValue,
    check_user_name,
    secret_data_json,
    ssh_key_value,
)
from ecs_secret_bot.errors import (
    CloudClientError,
    Conflict,
    InvalidInput,
    NextStep,
    Subcommand,
)

__all__ = ["MAX_DESCRIPTION", "MAX_TAGS", "check_create", "create_secret", "execute_create"]

CREATE = "kms:CreateSecret"
MAX_DESCRIPTION = 1024
MAX_TAGS = 20
_MAX_TAG_TEXT = 128
_INSTANCE_ID = re.compile(r"^i-[A-Za-z0-9]{1,64}$")
_DKMS_ID = re.compile(r"^kst-[A-Za-z0-9-]{1,64}$")
_KEY_ID = re.compile(r"^[A-Za-z0-9_/:.@-]{1,256}$")
_KINDS = {"password": "Password", "sshkey": "SSHKey"}


def _kind(kind: str) -> str:
    found = _KINDS.get(str(kind).strip().lower())
    if found is None:
        raise InvalidInput(
            f"{str(kind)[:20]!r} is not a kind of ECS secret.",
            field="kind",
            next_step="Choose Password or SSHKey.",
        )
    return found


def _instance_id(text: str) -> str:
    instance_id = text.strip() if isinstance(text, str) else ""
    if not _INSTANCE_ID.match(instance_id):
        raise InvalidInput(
            f"{instance_id[:70]!r} is not an ECS instance id."
            if instance_id
            else "An instance is needed.",
            field="instance_id",
            next_step="Pick the instance from the list, or type its id (i-...).",
        )
    return instance_id


def _initial_value(req: CreateRequest, kind: str, user: str) -> SecretValue:
    """Check the user's current credential and wrap it; never echo it."""
    value: SecretValue
    if kind == "Password":
        if req.private_key.strip():
            raise InvalidInput(
                "A Password secret holds a password, not a private key.",
                field="private_key",
                next_step="Clear the private key, or choose the kind SSHKey.",
            )
        if not req.password.strip():
            raise InvalidInput(
                f"The current password of {user} is needed.",
                field="password",
                next_step="KMS hosts the password the user has now: type it (it is never shown).",
            )
        value = PasswordValue(user_name=user, password=req.password)
        field = "password"
    else:
        if req.password:
            raise InvalidInput(
                "An SSHKey secret holds a key pair, not a password.",
                field="password",
                next_step="Clear the password, or choose the kind Password.",
            )
        if not req.private_key.strip():
            raise InvalidInput(
                f"The current private key of {user} is needed.",
                field="private_key",
                next_step="Paste the PEM private key the user logs in with now; the public key "
                "is derived from it.",
            )
        value = ssh_key_value(user, req.private_key, public_key=req.public_key or None)
        field = "private_key"
    try:
        secret_data_json(value)
    except InvalidInput as exc:
        raise InvalidInput(
            exc.user_message, field=field, next_step="KMS stores at most 30,720 bytes."
        ) from None
    return value


def _tags(tags: Sequence[tuple[str, str]]) -> list[list[str]]:
    if len(tags) > MAX_TAGS:
        raise InvalidInput(
            f"{len(tags)} tags were given; KMS takes at most {MAX_TAGS}.",
            field="tags",
            next_step=f"Keep {MAX_TAGS} tags or fewer.",
        )
    seen: set[str] = set()
    checked: list[list[str]] = []
    for key, value in tags:
        key, value = str(key).strip(), str(value).strip()
        if not key:
            raise InvalidInput("A tag has no key.", field="tags", next_step="Give every tag a key.")
        if key.lower().startswith(("aliyun", "acs:")):
            raise InvalidInput(
                f"The tag key {key[:40]!r} is reserved: KMS keeps keys starting with aliyun "
                "or acs: for itself.",
                field="tags",
                next_step="Choose another key.",
            )
        if len(key) > _MAX_TAG_TEXT or len(value) > _MAX_TAG_TEXT:
            raise InvalidInput(
                f"The tag {key[:40]!r} is too long: keys and values take up to "
                f"{_MAX_TAG_TEXT} characters.",
                field="tags",
                next_step="Shorten it.",
            )
        if key in seen:
            raise InvalidInput(
                f"The tag key {key[:40]!r} is given twice.",
                field="tags",
                next_step="Give each key once.",
            )
        seen.add(key)
        checked.append([key, value])
    return checked


def _kms_location(req: CreateRequest, core: Core, region: str) -> tuple[str, str]:
    defaults = core.settings.cloud.defaults_for(region)
    dkms = req.dkms_instance_id.strip() or defaults.dkms_instance_id or ""
    key = req.encryption_key_id.strip() or defaults.encryption_key_id or ""
    if req.dkms_instance_id.strip() and not _DKMS_ID.match(dkms):
        raise InvalidInput(
            f"{dkms[:70]!r} is not a KMS instance id.",
            field="dkms_instance_id",
            next_step="Use the id the KMS console shows (kst-...), or leave it empty for the "
            "configured default.",
        )
    if req.encryption_key_id.strip() and not _KEY_ID.match(key):
        raise InvalidInput(
            f"{key[:70]!r} is not a KMS key id.",
            field="encryption_key_id",
            next_step="Use the key id (key-...), alias or ARN, or leave it empty for the "
            "configured default.",
        )
    return dkms, key


def _rotation_interval(req: CreateRequest) -> str:
    """Return the interval to send (``7d`` when rotation is on without one), or empty if off."""
    given = req.rotation_interval.strip()
    if not req.automatic_rotation:
        if given:
            raise InvalidInput(
                "A rotation interval was given but automatic rotation is off.",
                field="rotation_interval",
                next_step="Turn automatic rotation on, or leave the interval empty.",
            )
        return ""
    interval = parse_interval(given, field="rotation_interval") if given else DEFAULT_INTERVAL
    return format_duration(interval)


def _refuse_key_on_windows(os_type: str, kind: str, instance_id: str) -> None:
    if os_type.lower() == "windows" and kind == "SSHKey":
        raise InvalidInput(
            f"{instance_id} runs Windows, which takes passwords only.",
            field="kind",
            next_step="Choose the kind Password and give the user's current password.",
        )


_Fields = tuple[SecretRef, str, str, str, str, list[list[str]], str, str]
"""A create request's checked fields but its value: ref, instance, user, kind, interval,
tags, KMS instance and key."""


def _fields(req: CreateRequest, core: Core) -> _Fields:
    ref = core.secret(req.name, req.region)
    instance_id = _instance_id(req.instance_id)
    user = check_user_name(req.user_name)
    kind = _kind(req.kind)
    interval = _rotation_interval(req)
    if len(req.description) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"The description is {len(req.description)} characters long; KMS takes "
            f"{MAX_DESCRIPTION}.",
            field="description",
            next_step="Shorten it.",
        )
    dkms, key = _kms_location(req, core, ref.region)
    return ref, instance_id, user, kind, interval, _tags(req.tags), dkms, key


def check_create(req: CreateRequest, *, core: Core) -> None:
    """Refuse what is wrong in ``req`` apart from its value, before anyone types the value."""
    _fields(req, core)


async def create_secret(
    req: CreateRequest, *, actor: Actor, core: Core
) -> CreateResult | HeldForApproval | DryRunReport:
    """Create the secret (or hold the request for approval, or report a dry run)."""
    ref, instance_id, user, kind, interval, tags, dkms, key = _fields(req, core)
    value = _initial_value(req, kind, user)
    early = await refuse_early(
        core,
        actor,
        action=CREATE,
        resource=core.collection(ref.region),
        request_keys={"kms:SecretSubType": kind},
        dry_run=req.dry_run,
    )
    if early is not None:
        return early
    if kind == "SSHKey":
        page = await core.cloud_for(actor).describe_instances(
            ref.region, instance_ids=[instance_id], max_results=10
        )
        for instance in page.instances:
            if instance.instance_id == instance_id:
                _refuse_key_on_windows(instance.os_type, kind, instance_id)
    request = ActionRequest(
        action=CREATE,
        resource=core.collection(ref.region),
        region=ref.region,
        secret_name=ref.name,
        params={
            "secret": ref.arn,
            "instance_id": instance_id,
            "user_name": user,
            "kind": kind,
            "automatic_rotation": req.automatic_rotation,
            "rotation_interval": interval,
            "description": req.description,
            "tags": tags,
            "dkms_instance_id": dkms,
            "encryption_key_id": key,
            "reason": req.reason,
        },
        request_keys={"kms:SecretSubType": kind},
    )
    call = (
        f"KMS CreateSecret SecretName={ref.name} SecretType=ECS VersionId=<new> "
        f"ExtendedConfig={{SecretSubType={kind}, RegionId={ref.region}, InstanceId={instance_id}}}"
        f" EnableAutomaticRotation={'true' if req.automatic_rotation else 'false'}"
        + (f" RotationInterval={interval}" if interval else "")
        + (f" DKMSInstanceId={dkms}" if dkms else "")
        + (f" EncryptionKeyId={key}" if key else "")
        + f" SecretData=<the current {'password' if kind == 'Password' else 'key pair'} of "
        f"{user}, not shown> in {ref.region}"
    )
    plan = Plan(request=request, cloud_call=call, instance_id=instance_id, value=value)
    return await run_mutation(
        core,
        actor,
        plan,
        execute=execute_create,
        dry_run=req.dry_run,
        request_id=req.request_id,
    )


def _explain(exc: CloudClientError, ref: SecretRef) -> CloudClientError:
    """Say a refused name plainly, with the short name and the way forward."""
    short = short_secret_name(ref.name)
    if exc.code == "Rejected.ResourceExist":
        text = f"A secret named {short} already exists in {ref.region}; nothing was created."
        step = NextStep(
            "Choose another name, or rotate the existing one ({command}).",
            Subcommand("rotate", (short,)),
        )
    elif exc.code == "Rejected.ResourceInDeleteWindow":
        text = (
            f"A secret named {short} is scheduled for deletion in {ref.region}, and KMS keeps "
            "its name until then; nothing was created."
        )
        step = NextStep(
            "Restore it ({command}) and use it, or choose another name.",
            Subcommand("restore", (short,)),
        )
    else:
        return exc
    return CloudClientError(
        text,
        code=exc.code,
        request_id=exc.request_id,
        status_code=exc.status_code,
        action=exc.action,
        next_step=step,
    )


@executor(CreateResult)
async def execute_create(core: Core, ex: Execution) -> CreateResult:
    """Pre-flight the instance and create the secret of a cleared request."""
    request = ex.request
    params = request.params
    ref = SecretRef(request.region, request.secret_name, str(params["secret"]))
    if ex.value is None:
        raise Conflict(
            "The initial value of this request is no longer stored, so it cannot run.",
            next_step="Ask again with the user's current credential.",
        )
    value = ex.value
    instance_id = str(params["instance_id"])
    kind = str(params["kind"])
    cloud = core.cloud(ex.identity)
    report = await run_preflight(cloud, ref.region, instance_id)
    report.raise_if_failed()
    if report.instance is not None:
        _refuse_key_on_windows(report.instance.os_type, kind, instance_id)
    automatic = bool(params.get("automatic_rotation"))
    interval_text = str(params.get("rotation_interval") or "")
    interval = parse_interval(interval_text, field="rotation_interval") if automatic else None
    tags = {str(k): str(v) for k, v in params.get("tags") or ()}
    version_id = f"bot-{uuid.uuid4().hex[:20]}"

    async def call() -> CreateResult:
        try:
            created = await cloud.create_secret(
                CreateSecretCall(
                    region=ref.region,
                    name=ref.name,
                    version_id=version_id,
                    value=value,
                    instance_id=instance_id,
                    automatic_rotation=automatic,
                    rotation_interval=interval,
                    description=str(params.get("description") or ""),
                    tags=tags,
                    dkms_instance_id=str(params.get("dkms_instance_id") or "") or None,
                    encryption_key_id=str(params.get("encryption_key_id") or "") or None,
                )
            )
        except CloudClientError as exc:
            explained = _explain(exc, ref)
            if explained is exc:
                raise
            raise explained from None
        return CreateResult(
            region=ref.region,
            secret_name=created.name,
            arn=created.arn or ref.arn,
            instance_id=instance_id,
            user_name=str(params["user_name"]),
            kind=kind,
            automatic_rotation=automatic,
            rotation_interval=interval_text if automatic else "",
            next_rotation=created.next_rotation,
            request_id=created.request_id,
            requested_by=ex.requested_by,
            approved_by=ex.approved_by,
        )

    return await run_cloud_step(core, ex, call)
