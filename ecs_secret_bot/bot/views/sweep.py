"""The sweep in Slack: its modal, its dry run, its channel message, its card's list.

Pure builders. Each secret is one line (name and region, instance, user, kind, and its
state with why); a list longer than a screenful (``SCREENFUL`` lines) shows the lines that
matter most first (problems, then what is moving) and counts the rest by state. Lines are
packed into sections of at most ``SECTION_BUDGET`` characters, so no text reaches Slack's
3000 and no view its 100 blocks (50 in a message). Names and reasons go through ``esc``;
nothing here is ever given a secret value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ecs_secret_bot.bot.ids import Action, Block, Callback
from ecs_secret_bot.bot.metadata import SweepMeta
from ecs_secret_bot.bot.views.blocks import (
    Block as BlockDict,
)
from ecs_secret_bot.bot.views.blocks import (
    actions,
    button,
    clip,
    confirm_dialog,
    context,
    esc,
    mention,
    section,
    short_name,
)
from ecs_secret_bot.bot.views.forms import form_input, form_modal, text_element
from ecs_secret_bot.bot.views.modals import loading_modal
from ecs_secret_bot.commands.sweeps import (
    ItemState,
    SweepCounts,
    SweepItem,
    SweepPlan,
    SweepSnapshot,
    SweepStatus,
)

__all__ = [
    "SCREENFUL",
    "TITLE",
    "card_members",
    "item_line",
    "item_sections",
    "sweep_dry_run_message",
    "sweep_message",
    "sweep_modal",
    "sweep_working_modal",
]

Message = tuple[str, list[BlockDict]]

TITLE = "Incident sweep"
SCREENFUL = 40
"""Lines shown one by one before the rest is counted."""
SECTION_BUDGET = 2800
"""Characters of lines per section: under Slack's 3000, with room for the escaping."""
_LINE_MAX = 600
_GENERATED = (
    "Each secret gets a value KMS generates (a 32-character password or an RSA-2048 key "
    "pair) on its instance; a sweep takes no custom values."
)
_ICONS = {
    ItemState.READY: ":large_blue_circle:",
    ItemState.REFUSED: ":no_entry:",
    ItemState.SKIPPED: ":fast_forward:",
    ItemState.QUEUED: ":hourglass:",
    ItemState.RUNNING: ":arrows_counterclockwise:",
    ItemState.COMPLETED: ":white_check_mark:",
    ItemState.FAILED: ":x:",
    ItemState.NOT_CONFIRMED: ":grey_question:",
    ItemState.STOPPED: ":black_square_for_stop:",
}
_WORDS = {
    ItemState.READY: "will rotate",
    ItemState.REFUSED: "refused",
    ItemState.SKIPPED: "skipped",
    ItemState.QUEUED: "waiting",
    ItemState.RUNNING: "rotating",
    ItemState.COMPLETED: "rotated",
    ItemState.FAILED: "failed",
    ItemState.NOT_CONFIRMED: "not confirmed",
    ItemState.STOPPED: "stopped, untouched",
}
_FIRST = (
    ItemState.FAILED,
    ItemState.NOT_CONFIRMED,
    ItemState.REFUSED,
    ItemState.SKIPPED,
    ItemState.RUNNING,
    ItemState.QUEUED,
    ItemState.READY,
    ItemState.COMPLETED,
    ItemState.STOPPED,
)
"""The order of lines: what needs a look first."""
_STATUS = {
    SweepStatus.AWAITING_APPROVAL: ":hourglass_flowing_sand: waiting for approval",
    SweepStatus.RUNNING: ":arrows_counterclockwise: running",
    SweepStatus.STOPPING: ":black_square_for_stop: stopping (the rotations under way finish)",
    SweepStatus.FINISHED: ":checkered_flag: finished",
    SweepStatus.STOPPED: ":black_square_for_stop: stopped",
    SweepStatus.DENIED: ":no_entry: denied",
    SweepStatus.EXPIRED: ":alarm_clock: expired before it was approved",
    SweepStatus.CHANGED: ":warning: not run: the set changed since it was approved",
}


def _kind(kind: str) -> str:
    return "SSH key" if kind.lower() in ("ssh_key", "sshkey") else "password"


def item_line(item: SweepItem) -> str:
    """Return one secret's line: where it is, whose it is, and how it stands (and why)."""
    instance = f"`{esc(item.instance_id)}`"
    if item.instance_name:
        instance += f" ({esc(item.instance_name)})"
    user = f"`{esc(item.user)}`" if item.user else "user unknown"
    state = f"*{_WORDS.get(item.state, str(item.state))}*"
    if item.reason:
        state += f": {esc(item.reason)}"
    line = (
        f"{_ICONS.get(item.state, '')} `{esc(short_name(item.name))}` ({esc(item.region)}) · "
        f"{instance} · {user} · {_kind(item.kind)} · {state}"
    )
    return clip(line, _LINE_MAX)


def _counted(items: Iterable[SweepItem]) -> str:
    counts = Counter(item.state for item in items)
    return ", ".join(f"{counts[state]} {_WORDS[state]}" for state in _FIRST if counts.get(state))


def item_sections(
    items: Sequence[SweepItem], *, screenful: int = SCREENFUL, max_blocks: int = 10
) -> list[BlockDict]:
    """Return the lines of ``items`` in at most ``max_blocks`` blocks, what matters first,
    the lines past a screenful (or past the blocks) counted by state."""
    rank = {state: n for n, state in enumerate(_FIRST)}
    ordered = sorted(items, key=lambda i: rank.get(i.state, len(rank)))
    blocks: list[BlockDict] = []
    lines: list[str] = []
    size = shown = 0
    for item in ordered[:screenful]:
        line = item_line(item)
        if lines and size + len(line) + 1 > SECTION_BUDGET:
            if len(blocks) + 2 >= max_blocks:  # room left for this section and the count
                break
            blocks.append(section("\n".join(lines)))
            lines, size = [], 0
        lines.append(line)
        size += len(line) + 1
        shown += 1
    if lines:
        blocks.append(section("\n".join(lines)))
    rest = ordered[shown:]
    if rest:
        blocks.append(context(f"…and {len(rest)} more: {_counted(rest)}."))
    return blocks


def _plan_head(plan: SweepPlan) -> str:
    runnable = len(plan.runnable)
    others = len(plan.items) - runnable
    head = (
        f"*Selector:* `{esc(plan.selector.describe())}`\n"
        f"*{len(plan.items)}* ECS secret{'s' if len(plan.items) != 1 else ''} match: "
        f"*{runnable}* to rotate"
    )
    if others:
        head += f", {_counted(i for i in plan.items if i.state is not ItemState.READY)}"
    head += "."
    if runnable and plan.approval_rule:
        needs = f" ({esc(plan.approval_needs)})" if plan.approval_needs else ""
        head += (
            f"\n:lock: One approval for the whole set: rule `{esc(plan.approval_rule)}`{needs}, "
            "the strictest rule among them. It holds for exactly this set."
        )
    elif runnable:
        head += "\nNo approval rule holds any of them: they rotate as soon as you confirm."
    return head


def sweep_working_modal(selector_words: str) -> dict[str, Any]:
    """Return the modal shown at once while the sweep's secrets are looked up."""
    return loading_modal(TITLE, f"Finding the secrets of `{esc(selector_words)}`…")


def sweep_modal(
    plan: SweepPlan, meta: SweepMeta, *, note: str = "", reason: str = ""
) -> dict[str, Any]:
    """Return the modal listing the exact set, with a required reason, to confirm the sweep."""
    blocks: list[BlockDict] = []
    if note:
        blocks.append(section(f":warning: {note}"))
    if not plan.items:
        blocks.append(
            section(f"No ECS secret matches `{esc(plan.selector.describe())}`. Nothing to rotate.")
        )
        return _with_meta(form_modal(Callback.SWEEP, TITLE, blocks, close="Close"), meta)
    blocks.append(section(_plan_head(plan)))
    blocks.extend(item_sections(plan.items, max_blocks=90 - len(blocks)))
    runnable = len(plan.runnable)
    if not runnable:
        blocks.append(context("None of them can be rotated now: nothing to confirm."))
        return _with_meta(form_modal(Callback.SWEEP, TITLE, blocks, close="Close"), meta)
    blocks.append(context(_GENERATED))
    blocks.append(
        form_input(
            Block.REASON,
            "Reason (required)",
            text_element(
                Action.REASON,
                placeholder="The incident, and why these secrets (approvers and the audit see it)",
                initial=reason,
                multiline=True,
                max_length=500,
            ),
        )
    )
    submit = f"Rotate {runnable} secret{'s' if runnable != 1 else ''}"
    return _with_meta(form_modal(Callback.SWEEP, TITLE, blocks, submit=submit), meta)


def _with_meta(view: dict[str, Any], meta: SweepMeta) -> dict[str, Any]:
    view["private_metadata"] = meta.dump()
    return view


def sweep_dry_run_message(plan: SweepPlan) -> Message:
    """Return the private listing of what a sweep would do (nothing changed)."""
    head = f":mag: *Dry run, nothing changed.* {_plan_head(plan)}"
    if not plan.items:
        selector = esc(plan.selector.describe())
        head = f":mag: *Dry run, nothing changed.* No ECS secret matches `{selector}`."
    text = (
        f"Dry run of a sweep ({plan.selector.describe()}): {len(plan.runnable)} of "
        f"{len(plan.items)} secrets would rotate."
    )
    blocks = [section(head), *item_sections(plan.items, max_blocks=45)]
    return text, blocks


def _progress(counts: SweepCounts) -> str:
    return (
        f"*{counts.done} done* · {counts.failed} failed · {counts.skipped} skipped · "
        f"{counts.waiting} waiting"
    )


def _summary(snapshot: SweepSnapshot) -> str:
    counts, who = snapshot.counts, mention(snapshot.requester)
    stopped = sum(1 for i in snapshot.items if i.state is ItemState.STOPPED)
    if snapshot.status in (SweepStatus.DENIED, SweepStatus.EXPIRED, SweepStatus.CHANGED):
        note = f" {esc(snapshot.note)}" if snapshot.note else ""
        return f"{who}: the sweep did not run ({_STATUS[snapshot.status]}).{note}"
    said = (
        f"{who}: the sweep is over. {counts.done} rotated, {counts.failed} failed or not "
        f"confirmed, {counts.skipped - stopped} skipped or refused"
    )
    if stopped:
        by = f" by {mention(snapshot.stopped_by)}" if snapshot.stopped_by else ""
        said += f", {stopped} stopped{by} before they started (untouched)"
    return said + "."


def sweep_message(snapshot: SweepSnapshot) -> Message:
    """Return the sweep's channel message as it should read now (edited in place)."""
    status = _STATUS.get(snapshot.status, str(snapshot.status))
    reason = f" — _{esc(clip(snapshot.reason, 300))}_" if snapshot.reason else ""
    head = (
        f":rotating_light: *Incident sweep* by {mention(snapshot.requester)}: "
        f"`{esc(snapshot.selector.describe())}`{reason}"
    )
    blocks = [section(head), section(f"{_progress(snapshot.counts)} · {status}")]
    blocks.extend(item_sections(snapshot.items, max_blocks=44))
    if snapshot.finished:
        summary = _summary(snapshot)
        blocks.append(section(f":checkered_flag: {summary}"))
        return f"Incident sweep {snapshot.sweep_id}: {summary}", blocks
    if snapshot.status is SweepStatus.RUNNING:
        confirm = confirm_dialog(
            "Stop this sweep?",
            "The secrets not yet started stay untouched; the rotations under way finish.",
            confirm="Stop the sweep",
        )
        stop = button(
            "Stop", Action.SWEEP_STOP, value=snapshot.sweep_id, style="danger", confirm=confirm
        )
        blocks.append(actions([stop], block_id=Block.SWEEP_ACTIONS))
    counts = snapshot.counts
    text = (
        f"Incident sweep {snapshot.sweep_id} ({snapshot.status}): {counts.done} done, "
        f"{counts.failed} failed, {counts.skipped} skipped, {counts.waiting} waiting"
    )
    return text, blocks


def card_members(params: Mapping[str, Any], *, screenful: int = SCREENFUL) -> list[BlockDict]:
    """Return the secrets an approval card of a sweep covers, collapsed past a screenful."""
    members = [m for m in params.get("members", ()) if isinstance(m, Mapping)]
    lines = [
        f"• `{esc(short_name(str(m.get('secret_name', ''))))}` ({esc(m.get('region', ''))})"
        for m in members
    ]
    blocks: list[BlockDict] = []
    chunk: list[str] = []
    for line in lines[:screenful]:
        if chunk and sum(len(c) + 1 for c in chunk) + len(line) > SECTION_BUDGET:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(clip(line, _LINE_MAX))
    if chunk:
        blocks.append(section("\n".join(chunk)))
    if len(lines) > screenful:
        blocks.append(context(f"…and {len(lines) - screenful} more."))
    return blocks
