"""``ecs-secret-bot check``: is this configuration right, and can the bot reach what it names?

Owns ``run_check`` (the checks, each an OK, a FAIL with exactly what is wrong and what to
do, or a SKIP with why; ``launch.check_command`` loads, runs and prints them). The checks:
the configuration (policies and approval rules included) loads; the database opens with
its data key and its audit chain verifies (else the first bad entry is named); Slack
accepts the bot token (``auth.test``) and, for Socket Mode, the app-level token
(``apps.connections.open``) or, for HTTP mode, a signing secret is set; KMS answers
``ListSecrets`` and ECS ``DescribeInstances`` in every configured region with the default
credential chain; and the bot's identity (and each role a binding names, assumed through
STS) holds every RAM permission the bot uses, each shown by a harmless call
(``cloud.probes``), each missing one named with the line of the shipped policy that grants
it. The database and the gateway are opened through ``runtime``, as ``serve`` opens them
(with ``--sandbox``: the emulated cloud and the sandbox's own database). Never prints a
token, a key or a secret value; never changes anything in the cloud (its probes of mutating
APIs name a secret that cannot exist; opening the database creates it, and its key file, if
they do not exist yet, as ``serve`` would, and refuses one that vanished unless ``--init``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from ecs_secret_bot.cloud.endpoints import endpoint_for
from ecs_secret_bot.cloud.permissions import BOT_POLICY_FILE, grant_for
from ecs_secret_bot.cloud.probes import UNCHECKED, Probe, probe_permissions
from ecs_secret_bot.commands.gateway import CloudGateway, CloudIdentity
from ecs_secret_bot.config import Settings
from ecs_secret_bot.errors import (
    BotError,
    CloudError,
    CloudPermissionDenied,
    StorageFault,
    storage_error,
)
from ecs_secret_bot.runtime import cloud_gateway, open_storage
from ecs_secret_bot.storage.audit import ChainCheck, verify_audit_chain
from ecs_secret_bot.terminal.report import next_step_text

if TYPE_CHECKING:
    from alibabacloud_credentials.client import Client as CredentialClient

__all__ = ["CheckLine", "fail_line", "format_lines", "run_check"]

Status = Literal["OK", "FAIL", "SKIP"]


@dataclass(frozen=True)
class CheckLine:
    """One check: what was checked, how it went, and what to do if it failed."""

    name: str
    status: Status
    detail: str
    next_step: str = ""

    @property
    def failed(self) -> bool:
        """Say whether this check failed."""
        return self.status == "FAIL"


def fail_line(name: str, failure: BotError | StorageFault) -> CheckLine:
    """Return the FAIL line of ``name``: what went wrong, and what to do about it."""
    error = storage_error(failure) if isinstance(failure, StorageFault) else failure
    detail = error.user_message
    if isinstance(error, CloudError) and error.code and error.code not in detail:
        detail += f" (error {error.code})"
    return CheckLine(name, "FAIL", detail, next_step_text(error.next_step))


async def _storage(
    settings: Settings, key: str, cred: CredentialClient | None, init: bool
) -> list[CheckLine]:
    storage = settings.storage
    existed = bool(storage.url) or storage.path.exists()  # PostgreSQL: created by its admin
    try:
        db = await open_storage(settings, data_key=key, credential=cred, init=init)
    except (BotError, StorageFault) as exc:
        return [fail_line("storage", exc)]
    try:
        chain = await verify_audit_chain(db)
    finally:
        await db.close()
    created = "" if existed else " (created now)"
    opened = CheckLine("storage", "OK", f"{storage.where} opens{created}")
    return [opened, _audit_line(chain)]


def _audit_line(chain: ChainCheck) -> CheckLine:
    if chain.ok:
        head = f"{chain.head_seq}:{chain.head_hash}"
        return CheckLine("audit log", "OK", f"{chain.checked} entries verify; head {head}")
    when = f" ({chain.first_broken_at:%Y-%m-%d %H:%M} UTC)" if chain.first_broken_at else ""
    detail = f"entry {chain.first_broken_seq}{when}: {chain.problem}; {chain.checked} before it"
    return CheckLine("audit log", "FAIL", f"{detail} verify", _TAMPERED)


_TAMPERED = (
    "Someone changed the database outside the bot: keep this copy as evidence, find who "
    "could write to it, and restore from a backup you trust."
)


async def _slack(
    token: str, api_url: str, *, app_token: str, signing_secret: str, oauth: bool = False
) -> list[CheckLine]:
    if not token and oauth:
        detail = "OAuth install mode: each workspace's token comes with its installation"
        return [CheckLine("slack", "SKIP", detail, "Install it from /slack/install once serving.")]
    if not token:
        return [
            CheckLine(
                "slack",
                "SKIP",
                "SLACK_BOT_TOKEN is not set, so Slack was not checked",
                "Set it to the Bot User OAuth Token (xoxb-...) to run the Slack app.",
            )
        ]
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    base = api_url if api_url.endswith("/") else api_url + "/"
    lines: list[CheckLine] = []
    try:
        reply = await AsyncWebClient(token=token, base_url=base, timeout=10).auth_test()
        lines.append(
            CheckLine(
                "slack auth.test",
                "OK",
                f"bot {reply.get('user')} in workspace {reply.get('team')} ({base})",
            )
        )
    except SlackApiError as exc:
        lines.append(
            CheckLine(
                "slack auth.test",
                "FAIL",
                f"Slack refused SLACK_BOT_TOKEN: {exc.response.get('error')}",
                "Copy the Bot User OAuth Token (xoxb-...) from the app's OAuth & Permissions "
                "page, after installing the app to the workspace.",
            )
        )
    except Exception as exc:  # noqa: BLE001 - any transport failure is the answer here
        lines.append(
            CheckLine(
                "slack auth.test",
                "FAIL",
                f"cannot reach {base}: {type(exc).__name__}",
                "Check the network, a proxy, and SLACK_API_URL (default https://slack.com/api/).",
            )
        )
    if app_token:
        try:
            await AsyncWebClient(token=app_token, base_url=base, timeout=10).apps_connections_open(
                app_token=app_token
            )
            lines.append(CheckLine("slack socket mode", "OK", "SLACK_APP_TOKEN is accepted"))
        except SlackApiError as exc:
            lines.append(
                CheckLine(
                    "slack socket mode",
                    "FAIL",
                    f"Slack refused SLACK_APP_TOKEN: {exc.response.get('error')}",
                    "Create an app-level token (xapp-...) with connections:write under Basic "
                    "Information, and turn Socket Mode on.",
                )
            )
        except Exception as exc:  # noqa: BLE001
            lines.append(
                CheckLine("slack socket mode", "FAIL", f"cannot reach {base}: {exc!r}"[:200])
            )
    elif signing_secret:
        lines.append(
            CheckLine("slack http mode", "OK", "SLACK_SIGNING_SECRET is set (POST /slack/events)")
        )
    else:
        lines.append(
            CheckLine(
                "slack http mode",
                "FAIL",
                "neither SLACK_APP_TOKEN (Socket Mode) nor SLACK_SIGNING_SECRET (HTTP) is set",
                "Set SLACK_APP_TOKEN for Socket Mode, or SLACK_SIGNING_SECRET (Basic "
                "Information, App Credentials) for a public URL.",
            )
        )
    return lines


def _masked(key_id: str) -> str:
    return key_id if len(key_id) <= 8 else f"{key_id[:4]}...{key_id[-3:]}"


async def _credentials(credential: CredentialClient | None) -> tuple[CheckLine, bool]:
    from alibabacloud_credentials.client import Client

    client = credential if credential is not None else Client()
    try:
        found = await client.get_credential_async()
    except Exception as exc:  # noqa: BLE001 - CredentialException, or a provider's own error
        return (
            CheckLine(
                "credentials",
                "FAIL",
                f"no Alibaba Cloud credentials: {exc}"[:600],
                "Set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or use a "
                "profile (~/.alibabacloud/credentials.ini), an ECS instance RAM role, or OIDC.",
            ),
            False,
        )
    provider = found.get_provider_name() or "the default chain"
    key_id = found.get_access_key_id() or ""
    return CheckLine("credentials", "OK", f"from {provider}, AccessKey ID {_masked(key_id)}"), True


@dataclass(frozen=True)
class _Asked:
    """How ListSecrets and DescribeInstances went in one region (None: they answered)."""

    region: str
    listed: BotError | None
    described: BotError | None
    instance_id: str | None
    secrets: int = 0
    instances: str = ""


async def _ask(cloud: CloudGateway, region: str) -> _Asked:
    listed = described = None
    count, instances, instance_id = 0, "", None
    try:
        count = (await cloud.list_secrets(region, page_size=1)).total_count
    except BotError as exc:
        listed = exc
    try:
        page = await cloud.describe_instances(region, max_results=10)
        instances = f"{len(page.instances)}{'+' if page.next_token else ''}"
        instance_id = page.instances[0].instance_id if page.instances else None
    except BotError as exc:
        described = exc
    return _Asked(region, listed, described, instance_id, count, instances)


async def _cloud(settings: Settings, credential: CredentialClient | None) -> list[CheckLine]:
    found, usable = await _credentials(credential)
    if not usable:
        return [found, CheckLine("kms, ecs", "SKIP", "not called without credentials")]
    # One attempt each: a check should answer fast and say what is wrong, not retry it away.
    gateway = cloud_gateway(replace(settings.cloud, max_attempts=1), credential=credential)
    cloud = settings.cloud
    lines: list[CheckLine] = [found]
    asked = [await _ask(gateway, region) for region in cloud.regions]
    for one in asked:
        region = one.region
        kms_where = endpoint_for(cloud, "kms", region).url
        ecs_where = endpoint_for(cloud, "ecs", region).url
        if one.listed is not None:
            lines.append(fail_line(f"kms {region}", one.listed))
        else:
            answer = f"ListSecrets answered: {one.secrets} ECS secret(s) ({kms_where})"
            lines.append(CheckLine(f"kms {region}", "OK", answer))
        if one.described is not None:
            lines.append(fail_line(f"ecs {region}", one.described))
        else:
            answer = f"DescribeInstances answered: {one.instances} instance(s) ({ecs_where})"
            lines.append(CheckLine(f"ecs {region}", "OK", answer))
    account = cloud.account_id
    lines += await _permissions(gateway, asked, account, label="", who="the bot's own identity")
    roles = dict.fromkeys(b.role_arn for b in settings.policies.bindings if b.role_arn)
    for role in roles:
        assert role is not None
        as_role = gateway.as_identity(CloudIdentity(role, "ecs-secret-bot:check"))
        role_asked = [await _ask(as_role, region) for region in cloud.regions]
        name = role.rpartition("/")[2]
        who = f"the role {name} (assumed by the bot)"
        label = f" as role {name}"
        lines += await _permissions(as_role, role_asked, account, label=label, who=who)
    return lines


def _answered(error: BotError | None) -> bool:
    """Say whether the service answered (a permission refusal is an answer too)."""
    return error is None or isinstance(error, CloudPermissionDenied)


async def _permissions(
    cloud: CloudGateway, asked: list[_Asked], account: str, *, label: str, who: str
) -> list[CheckLine]:
    """Probe every permission in the regions that answered; one line per missing one."""
    assumed = [a.listed for a in asked if getattr(a.listed, "action", "") == "AssumeRole"]
    if assumed and assumed[0] is not None:
        error = assumed[0]
        return [fail_line(f"permission sts:AssumeRole{label}", error)]
    probes: list[Probe] = []
    skipped = [a.region for a in asked if not _answered(a.listed)]
    for one in asked:
        if one.region not in skipped:
            probes += await probe_permissions(
                cloud,
                one.region,
                listed=one.listed,
                described=one.described,
                instance_id=one.instance_id,
            )
    lines: list[CheckLine] = []
    missing: dict[str, list[Probe]] = {}
    for probe in probes:
        if probe.outcome == "missing":
            missing.setdefault(probe.permission, []).append(probe)
    for permission, where in missing.items():
        regions = ", ".join(p.region for p in where)
        grant = grant_for(permission)
        step = f"grant it: {grant.line(account)} ({grant.where()})" if grant else ""
        detail = f"{who} lacks {permission} in {regions}: {where[0].detail}"
        lines.append(CheckLine(f"permission {permission}{label}", "FAIL", detail, step))
    checked = {p.permission for p in probes if p.outcome != "unknown"}
    unknown = sorted(
        {f"{p.permission} ({p.detail})" for p in probes if p.permission not in checked}
    )
    held = len(checked) - len(missing)
    unchecked = ", ".join(
        f"{action} (statement {g.number})" for action in UNCHECKED if (g := grant_for(action))
    )
    detail = (
        f"{who} holds {held} of the {len(checked)} permissions checked with harmless calls; "
        f"unchecked, as no call shows them without creating a secret: {unchecked} of "
        f"{BOT_POLICY_FILE.name}"
    )
    status: Status = "FAIL" if missing else "SKIP" if unknown or skipped else "OK"
    if skipped:
        detail += f"; not checked in {', '.join(skipped)}, where KMS did not answer"
    if unknown:
        detail += f"; not known: {'; '.join(unknown)}"
    step = "Each missing one is listed with the policy line that grants it." if missing else ""
    return [CheckLine(f"permissions{label}", status, detail, step), *lines]


async def run_check(
    settings: Settings,
    *,
    slack_token: str,
    slack_api_url: str,
    credential: CredentialClient | None = None,
    slack_app_token: str = "",
    slack_signing_secret: str = "",
    data_key: str = "",
    init: bool = False,
    slack_oauth: bool = False,
) -> list[CheckLine]:
    """Check storage (``init``: as ``serve --init``), Slack and the cloud; one line each."""
    policies = settings.policies
    rules = settings.approval_rules.rules
    lines = [
        CheckLine(
            "configuration",
            "OK",
            f"{settings.source or 'configuration'}: regions {', '.join(settings.cloud.regions)}; "
            f"{len(policies.bindings)} binding(s); {len(rules)} approval rule(s)",
        )
    ]
    lines += await _storage(settings, data_key, credential, init)
    lines += await _slack(
        slack_token,
        slack_api_url,
        app_token=slack_app_token,
        signing_secret=slack_signing_secret,
        oauth=slack_oauth,
    )
    lines += await _cloud(settings, credential)
    return lines


def format_lines(lines: list[CheckLine]) -> str:
    """Return the lines as people read them: status, name, detail, next step."""
    width = max(len(line.name) for line in lines)
    out = []
    for line in lines:
        out.append(f"{line.status:<4}  {line.name.ljust(width)}  {line.detail}")
        if line.next_step and line.status != "OK":
            out.append(f"{'':<4}  {'':<{width}}  -> {line.next_step}")
    failed = sum(line.failed for line in lines)
    out.append("all checks passed" if not failed else f"{failed} check(s) failed")
    return "\n".join(out)
