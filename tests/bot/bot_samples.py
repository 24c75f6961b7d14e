"""Sample core results for builder tests: normal ones, and ones stretched to Slack's limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ecs_secret_bot.commands.approval.rules import RouteKind
from ecs_secret_bot.commands.outcomes import (
    CreateResult,
    DeleteResult,
    DryRunReport,
    HeldForApproval,
    RestoreResult,
    RotateResult,
    RotationPolicyResult,
)
from ecs_secret_bot.commands.queries import (
    Access,
    ApprovalItem,
    ApprovalsListing,
    AuditLine,
    AuditRequest,
    AuditTrail,
    PendingListing,
    PendingRow,
    RegionListing,
    SecretListing,
    SecretRow,
    SecretView,
    WhoAmI,
)
from ecs_secret_bot.commands.tracker import RotationOutcome, State
from ecs_secret_bot.storage.approvals import ApprovalRow, Vote

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LONG = "x" * 5000
USER = "slack:user:U0ALICE"


def access(kind: RouteKind = RouteKind.RUN, reason: str = "allowed by statement 1") -> Access:
    return Access("rotate", "kms:RotateSecret", "acs:kms:*:*:secret/acs/ecs/a", kind, reason, "r")


def secret_view(name: str = "acs/ecs/web-3-root", *, text: str = "demo") -> SecretView:
    return SecretView(
        region="cn-hangzhou",
        name=name,
        short_name=name.removeprefix("acs/ecs/"),
        arn=f"acs:kms:cn-hangzhou:*:secret/{name}",
        description=text,
        instance_id="i-web3",
        instance_name=text,
        instance_status="Running",
        instance_os="linux",
        user_name="root",
        sub_type="Password",
        automatic_rotation="Enabled",
        rotation_interval=timedelta(days=7),
        last_rotation=NOW,
        next_rotation=NOW + timedelta(days=7),
        planned_deletion=None,
        created=NOW,
        updated=NOW,
        tags=(),
        notes=(text,),
        rotate_generated=access(RouteKind.HOLD),
        rotate_custom=access(),
        instance_public_ips=("47.96.10.20", "120.55.1.2"),
    )


def rotate_result(text: str = "web-3") -> RotateResult:
    return RotateResult(
        "cn-hangzhou", "acs/ecs/web-3-root", "i-web3", text, "v2", False, "req", USER, 1, NOW
    )


def outcome(
    state: State = "failed",
    reason: str = "Cloud Assistant offline",
    instance_name: str = "web-3",
    *,
    custom: bool = False,
    seen: tuple[str, ...] = (),
    checks: tuple[str, ...] = (),
) -> RotationOutcome:
    return RotationOutcome(
        rotation_id=1,
        state=state,
        reason=reason,
        region="cn-hangzhou",
        secret_name="acs/ecs/web-3-root",
        version_id="v2",
        instance_id="i-web3",
        instance_name=instance_name,
        requested_by=USER,
        approved_by=(),
        message_channel="CINC",
        message_ts="1.2",
        reported_here=True,
        custom=custom,
        seen=seen,
        checks=checks,
        deadline=NOW,
    )


def delete_result(immediately: bool = False) -> DeleteResult:
    planned = None if immediately else NOW + timedelta(days=30)
    return DeleteResult("cn-hangzhou", "acs/ecs/old", immediately, planned, 7, "req", USER)


def results() -> list[object]:
    return [
        rotate_result(),
        delete_result(),
        delete_result(True),
        RestoreResult("cn-hangzhou", "acs/ecs/old", "req", USER, 7),
        RotationPolicyResult("cn-hangzhou", "acs/ecs/old", True, "7d", "req", USER),
        CreateResult(
            "cn-hangzhou",
            "acs/ecs/new",
            "arn",
            "i-web3",
            "root",
            "Password",
            True,
            "7d",
            NOW,
            "req",
            USER,
        ),
    ]


def dry_run(text: str = "fine") -> DryRunReport:
    return DryRunReport(
        "kms:DeleteSecret",
        "arn",
        "cn-hangzhou",
        "acs/ecs/old",
        True,
        text,
        "immediate-delete",
        ("ok: instance Running", f"failed: {text}"),
        "KMS DeleteSecret ...",
        text,
    )


def held() -> HeldForApproval:
    return HeldForApproval(
        "ap-1",
        "kms:DeleteSecret",
        "arn",
        "cn-hangzhou",
        "acs/ecs/old",
        "immediate-delete",
        "1 approval from security",
        NOW,
        "C0INC",
        ("slack:usergroup:SSEC",),
        False,
        USER,
    )


def approval_row(status_: str = "pending", *, reason: str = "clean-up") -> ApprovalRow:
    votes = (
        (Vote("slack:user:U01ADMIN", "approve", "approvers", NOW),) if status_ != "pending" else ()
    )
    return ApprovalRow(
        id="ap-1",
        action="kms:DeleteSecret",
        resource="arn",
        region="cn-hangzhou",
        secret_name="acs/ecs/old",
        params={"params": {"immediately": True}},
        params_hash="h",
        requester=USER,
        channel_id="C0INC",
        rule="immediate-delete",
        requirements={"approvers": 1},
        reason=reason,
        status=status_,
        created_at=NOW,
        expires_at=NOW + timedelta(hours=2),
        updated_at=NOW,
        message_channel="C0INC",
        message_ts="1.2",
        outcome="done",
        votes=votes,
    )


def pending_listing(count: int = 3, text: str = "n") -> PendingListing:
    rows = tuple(
        PendingRow(
            id=i,
            region="cn-hangzhou",
            name=f"acs/ecs/{text}-{i}",
            short_name=f"{text}-{i}",
            arn="arn",
            planned_delete_time=NOW + timedelta(days=3),
            days_left=3,
            hours_left=72,
            overdue=False,
            status="scheduled",
            scheduled_by=USER,
            channel_id="C0INC",
            note="",
            restore=access(RouteKind.HOLD if i % 2 else RouteKind.RUN),
        )
        for i in range(count)
    )
    return PendingListing(rows=rows, regions=("cn-hangzhou",))


def approval_item(text: str = "r") -> ApprovalItem:
    return ApprovalItem(
        "ap-1",
        "kms:DeleteSecret",
        "arn",
        "cn-hangzhou",
        "acs/ecs/old",
        "old",
        USER,
        "C0INC",
        "immediate-delete",
        "1 approval",
        "approvers 0/1",
        "pending",
        NOW,
        NOW,
        text,
        text,
        "",
        (),
        (),
    )


def approvals_listing(count: int = 2, text: str = "r") -> ApprovalsListing:
    items = tuple(approval_item(text) for _ in range(count))
    return ApprovalsListing(waiting_for_me=items, mine=items)


def audit_trail(count: int = 5, text: str = "ok") -> AuditTrail:
    """Return ``count`` requests of two entries each, every text field ``text``."""
    requests = []
    for i in range(count):
        lines = tuple(
            AuditLine(
                2 * i + step,
                NOW,
                USER,
                "kms:RotateSecret",
                "arn",
                "cn-hangzhou",
                "web-3-root",
                "C0INC",
                "allow",
                text,
                text,
                "req",
                "",
                correlation_id=f"req-{i}",
            )
            for step in (0, 1)
        )
        requests.append(
            AuditRequest(
                id=f"req-{i}",
                at=NOW,
                requester=USER,
                action="kms:RotateSecret",
                region="cn-hangzhou",
                secret_name="web-3-root",
                channel_id="C0INC",
                decision="approved",
                outcome=text,
                approvers=(USER, f"slack:user:{text[:20]}"),
                entries=lines,
            )
        )
    return AuditTrail(requests=tuple(requests), more=True)


def listing(count: int = 3, text: str = "web") -> SecretListing:
    rows = tuple(
        SecretRow("cn-hangzhou", f"acs/ecs/{text}-{i}", f"{text}-{i}", NOW, NOW, None)
        for i in range(count)
    )
    regions = (
        RegionListing("cn-hangzhou", "listed", count),
        RegionListing("cn-shanghai", "failed", reason=text, code="Throttling"),
    )
    return SecretListing(rows=rows, regions=regions, name_filter=text)


def who() -> WhoAmI:
    return WhoAmI(
        USER,
        ("slack:usergroup:SSRE",),
        "C0INC",
        "#inc-1234",
        (),
        True,
        ("AliyunKMSSecretAdminAccess",),
        "arn",
        tuple(access() for _ in range(9)),
    )
