"""Pre-flight for create and rotate: can this instance take a credential now?

Three checks, in order, through ECS only (never KMS): the instance exists in the region,
it is Running, and its Cloud Assistant agent is online (KMS pushes the credential with a
Cloud Assistant command). Each failed check says exactly what to do.
"""

from __future__ import annotations

from dataclasses import dataclass

from ecs_secret_bot.commands.gateway import CloudGateway, Instance
from ecs_secret_bot.errors import CloudError, PreflightFailed

__all__ = ["Check", "PreflightReport", "preflight_lines", "run_preflight"]

CLOUD_ASSISTANT_DOC = (
    "https://www.alibabacloud.com/help/en/ecs/user-guide/install-the-cloud-assistant-agent"
)


@dataclass(frozen=True)
class Check:
    """One pre-flight check and its result."""

    name: str
    ok: bool
    detail: str
    next_step: str = ""


@dataclass(frozen=True)
class PreflightReport:
    """What the pre-flight found for one instance."""

    region: str
    instance_id: str
    instance: Instance | None
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """Say whether every check passed."""
        return all(check.ok for check in self.checks)

    def raise_if_failed(self) -> None:
        """Raise PreflightFailed naming the first failed check and what to do."""
        for check in self.checks:
            if not check.ok:
                raise PreflightFailed(
                    check.detail,
                    instance_id=self.instance_id,
                    check=check.name,
                    next_step=check.next_step,
                )


async def run_preflight(gateway: CloudGateway, region: str, instance_id: str) -> PreflightReport:
    """Check that ``instance_id`` exists in ``region``, is Running and its agent is online."""
    page = await gateway.describe_instances(region, instance_ids=[instance_id], max_results=10)
    instance = next((i for i in page.instances if i.instance_id == instance_id), None)
    if instance is None:
        missing = Check(
            "exists",
            False,
            f"Instance {instance_id} does not exist in {region}.",
            "Check the instance id and the region (--region); the create modal lists "
            "the instances of a region.",
        )
        return PreflightReport(region, instance_id, None, (missing,))
    label = f"{instance_id} ({instance.name})" if instance.name else instance_id
    checks = [Check("exists", True, f"Instance {label} exists in {region}.")]
    if instance.status != "Running":
        checks.append(
            Check(
                "running",
                False,
                f"Instance {label} is {instance.status or 'in an unknown state'}, not Running: "
                "KMS can only change a credential on a running instance.",
                "Start the instance (ECS console, or `aliyun ecs StartInstance`), wait until it "
                "is Running, then try again.",
            )
        )
        return PreflightReport(region, instance_id, instance, tuple(checks))
    checks.append(Check("running", True, f"Instance {label} is Running."))
    states = await gateway.cloud_assistant_status(region, [instance_id])
    online = any(s.online for s in states if s.instance_id == instance_id)
    if online:
        checks.append(Check("cloud_assistant", True, f"Cloud Assistant on {label} is online."))
    else:
        checks.append(
            Check(
                "cloud_assistant",
                False,
                f"Cloud Assistant on {label} is offline: KMS needs it to set the credential "
                "on the instance.",
                f"Install or restart the Cloud Assistant agent on the instance "
                f"({CLOUD_ASSISTANT_DOC}), then try again.",
            )
        )
    return PreflightReport(region, instance_id, instance, tuple(checks))


async def preflight_lines(gateway: CloudGateway, region: str, instance_id: str) -> list[str]:
    """Run the pre-flight and say each check in a line (``ok: ...``, ``failed: ...``)."""
    try:
        report = await run_preflight(gateway, region, instance_id)
    except CloudError as exc:
        return [f"failed: the pre-flight could not ask ECS ({exc.code or exc.user_message})"]
    return [f"{'ok' if c.ok else 'failed'}: {c.detail}" for c in report.checks]
