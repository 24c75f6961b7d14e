"""The read-only answers: list, show, pending, approvals, audit, whoami (ephemeral).

Pure builders over the core's view results. Tables are section fields; dates are Slack
dates, shown in each reader's own time zone; actions are worded for people ("delete", not
``kms:DeleteSecret``); headers are plain text, so they carry no markup; long listings are
cut under Slack's 50 blocks with a line that says how to narrow them.
"""

from __future__ import annotations

from collections.abc import Sequence

from ecs_secret_bot.bot.ids import Action
from ecs_secret_bot.bot.views.blocks import (
    Block,
    actions,
    button,
    context,
    esc,
    fields_section,
    header,
    mention,
    section,
    short_name,
    slack_date,
    user_label,
)
from ecs_secret_bot.bot.views.messages import Message, action_words, restore_value
from ecs_secret_bot.commands.queries import (
    ApprovalItem,
    ApprovalsListing,
    AuditRequest,
    AuditTrail,
    PendingListing,
    PendingRow,
    SecretListing,
    SecretView,
    WhoAmI,
)

__all__ = [
    "approvals_message",
    "audit_line",
    "audit_message",
    "list_message",
    "pending_message",
    "restore_button",
    "show_message",
    "whoami_message",
]

MAX_ROWS = 40


def _more(shown: int, total: int, how: str) -> list[Block]:
    if total <= shown:
        return []
    return [context(f"{total - shown} more not shown. {how}")]


def list_message(listing: SecretListing) -> Message:
    """Return the listing of ECS secrets."""
    count = f"{len(listing.rows)} ECS secret(s)"
    what = f" matching `{esc(listing.name_filter)}`" if listing.name_filter else ""
    title = count + what
    # The header is plain text: Slack shows markup and escapes in it literally, so the filter
    # goes in quotes, raw, only without the angle brackets a mention would need.
    shown = listing.name_filter.replace("<", "").replace(">", "")
    heading = f'{count} matching "{shown}"' if listing.name_filter else count
    pairs = []
    for row in listing.rows[:MAX_ROWS]:
        state = f"deletion {slack_date(row.planned_deletion)}" if row.pending_deletion else ""
        updated = f"updated {slack_date(row.updated)}" if row.updated else ""
        pairs.append(
            (
                f"{esc(row.short_name)}",
                f"{row.region}" + "".join(f" · {p}" for p in (updated, state) if p),
            )
        )
    blocks: list[Block] = [header(heading)]
    blocks.extend(fields_section(pairs))
    blocks.extend(_more(len(pairs), len(listing.rows), "Add a filter: `/ecs-secret list web-`."))
    notes = [
        f"{r.region}: {esc(r.reason or r.status)}" + (f" ({esc(r.code)})" if r.code else "")
        for r in listing.regions
        if r.status != "listed"
    ]
    if notes:
        blocks.append(context("Not complete: " + "; ".join(notes)))
    listed = any(r.status in ("listed", "partial") for r in listing.regions)
    if not listing.rows and listed:  # not "nothing" when no region could be listed at all
        blocks.append(section("Nothing found. `/ecs-secret create` makes one."))
    return title, blocks[:50]


def show_message(view: SecretView) -> Message:
    """Return one secret's details."""
    instance = f"`{esc(view.instance_id)}`"
    if view.instance_name:
        instance += f" ({esc(view.instance_name)})"
    pairs = [
        ("Region", view.region),
        ("Instance", instance + (f", {esc(view.instance_status)}" if view.instance_status else "")),
        ("Public IP", esc(", ".join(view.instance_public_ips)) or "none"),
        ("User", user_label(view.user_name)),
        ("Type", "Password" if view.sub_type == "Password" else "SSH key pair"),
        ("Automatic rotation", esc(view.automatic_rotation or "Disabled")),
        ("Interval", esc(str(view.rotation_interval)) if view.rotation_interval else "none"),
        ("Last rotation", slack_date(view.last_rotation)),
        ("Next rotation", slack_date(view.next_rotation)),
        ("Created", slack_date(view.created)),
        (
            "Scheduled deletion",
            slack_date(view.planned_deletion) if view.planned_deletion else "no",
        ),
    ]
    title = f"Secret {view.short_name}"
    blocks: list[Block] = [header(title), *fields_section(pairs)]
    if view.description:
        blocks.append(context(esc(view.description)))
    if view.active_rotation is not None:
        active = view.active_rotation
        blocks.append(
            context(
                f"A rotation is {esc(active.status)} since {slack_date(active.started_at)} "
                f"(asked by {mention(active.requested_by)})."
            )
        )
    for note in view.notes:
        blocks.append(context(esc(note)))
    return title, blocks


def restore_button(row: PendingRow) -> Block | None:
    """Return the Restore (or Request restore) button a reader gets for a pending row."""
    if not row.restore.may_ask or row.overdue:
        return None
    label = "Restore" if row.restore.allowed else "Request restore"
    # one action id per row: ids are unique within a view (handlers match the prefix)
    action_id = f"{Action.RESTORE}:{row.id}"
    return button(label, action_id, value=restore_value(row.name, row.region))


def pending_rows(rows: Sequence[PendingRow], limit: int = 15) -> list[Block]:
    """Return one section per pending deletion, with its button when the reader has one."""
    blocks: list[Block] = []
    for row in rows[:limit]:
        left = "overdue" if row.overdue else f"{row.days_left} day(s) left"
        text = (
            f"`{esc(row.short_name)}` ({row.region}): deleted {slack_date(row.planned_delete_time)}"
            f", {left}. Scheduled by {mention(row.scheduled_by)}."
        )
        blocks.append(section(text, accessory=restore_button(row)))
    return blocks


def pending_message(listing: PendingListing) -> Message:
    """Return the secrets scheduled for deletion."""
    title = f"{len(listing.rows)} secret(s) scheduled for deletion"
    blocks: list[Block] = [header(title), *pending_rows(listing.rows, 40)]
    blocks.extend(_more(min(40, len(listing.rows)), len(listing.rows), "Use `--region`."))
    if listing.skipped:
        skipped = "; ".join(f"{r}: {esc(why)}" for r, why in listing.skipped)
        blocks.append(context(f"Not shown: {skipped}"))
    if not listing.rows:
        blocks.append(section("No deletion is scheduled."))
    return title, blocks[:50]


def approval_line(item: ApprovalItem) -> str:
    """Return one approval request in one line."""
    expires = f", expires {slack_date(item.expires_at)}" if item.expires_at else ""
    return (
        f"`{esc(item.short_name)}` ({item.region}): {action_words(item.action)}, asked by "
        f"{mention(item.requester)}, rule `{esc(item.rule)}`, {esc(item.progress)}, "
        f"{esc(item.status)}{expires}"
    )


def approvals_message(listing: ApprovalsListing) -> Message:
    """Return the approvals waiting for the reader, and the reader's own requests."""
    title = f"{len(listing.waiting_for_me)} approval request(s) waiting for you"
    blocks: list[Block] = [header(title)]
    for item in listing.waiting_for_me[:20]:
        where = f" in <#{item.channel_id}>" if item.channel_id else ""
        blocks.append(section(approval_line(item) + where))
    if listing.mine:
        blocks.append(section("*Your requests*"))
        for item in listing.mine[:20]:
            blocks.append(section(approval_line(item)))
    if not listing.waiting_for_me and not listing.mine:
        blocks.append(section("Nothing waits for you."))
    return title, blocks[:50]


def _who(principal: str) -> str:
    # Only a well-formed Slack id becomes a mention; anything else from the log is quoted.
    kind, _, ident = principal.rpartition(":")
    if kind in ("slack:user", "slack:usergroup") and ident.isalnum() and ident.isupper():
        return mention(principal)
    return f"`{esc(principal)}`"


def audit_line(request: AuditRequest) -> str:
    """Return one request in one line: when, who, what, which secret, decision, outcome."""
    secret = request.secret_name or (request.entries[0].resource if request.entries else "")
    where = f" ({request.region})" if request.region else ""
    approvers = ", ".join(_who(p) for p in request.approvers)
    altered = ", ".join(str(seq) for seq in request.altered)
    return (
        (":warning: " if altered else "")
        + f"{slack_date(request.at, '{date_short} {time}')} {_who(request.requester)} "
        f"{action_words(request.action)} `{esc(short_name(secret) or '-')}`{where}: "
        f"{esc(request.decision)}, {esc(request.outcome)}"
        + (f"; approved by {approvers}" if approvers else "")
        + (f" (entry {altered} was changed after it was written)" if altered else "")
    )


def audit_message(trail: AuditTrail, name: str = "") -> Message:
    """Return recent requests, one line each (the entries behind them stay in the log)."""
    about = f" of `{esc(short_name(name))}`" if name else ""
    title = f"Recent activity{about}"
    blocks: list[Block] = [section(f"*{title}*")]
    lines = [audit_line(request) for request in trail.requests]
    for i in range(0, len(lines), 10):
        blocks.append(section("\n".join(lines[i : i + 10])))
    if trail.more:
        blocks.append(context("Older requests are not shown."))
    if not lines:
        blocks.append(section("No activity recorded yet."))
    return title, blocks[:50]


def whoami_message(who: WhoAmI) -> Message:
    """Return who the reader is to the policies and what they may do here."""
    groups = ", ".join(mention(g) for g in who.groups) or "none"
    policies = ", ".join(f"`{esc(p)}`" for p in who.policies) or "none"
    title = f"You are {mention(who.principal)} in {esc(who.channel)}"
    pairs = [("Groups", groups), ("Policies", policies)]
    table = [(esc(a.label), esc(a.verdict)) for a in who.actions]
    blocks: list[Block] = [section(title), *fields_section(pairs)]
    blocks.append(section(f"*What you may do on* `{esc(who.resource)}`"))
    blocks.extend(fields_section(table))
    if who.guardrail_note:
        blocks.append(context(esc(who.guardrail_note)))
    if who.next_step:
        blocks.append(context(esc(who.next_step)))
    return title, blocks


def home_refresh() -> Block:
    """Return the App Home's refresh button row."""
    return actions([button("Refresh", Action.HOME_REFRESH)])
