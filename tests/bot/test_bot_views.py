"""Every view and message the bot builds, normal and stretched, within Slack's limits."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import bot_samples as s
import pytest

from ecs_secret_bot.bot.ids import Action, Block
from ecs_secret_bot.bot.metadata import ModalMeta, seal, sealed
from ecs_secret_bot.bot.views import approvals, home, listings, messages, modals
from ecs_secret_bot.bot.views.blocks import esc, mention, with_mentions
from ecs_secret_bot.bot.views.limits import problems

LONG = s.LONG


def meta(text: str = "") -> ModalMeta:
    return ModalMeta(
        name=f"acs/ecs/{text or 'web-3-root'}",
        region="cn-hangzhou",
        channel_id="C0INC",
        channel_name="inc",
        days=10,
        reason=text,
        sub_type="SSHKey",
        custom=True,
    )


def all_modals(text: str) -> list[dict[str, Any]]:
    view = s.secret_view(text=text)
    return [
        modals.create_modal(
            regions=("cn-hangzhou", "cn-shanghai"), region="cn-hangzhou", meta=meta(text)
        ),
        modals.create_modal(regions=("cn-hangzhou",), region="x", meta=ModalMeta(dry_run=True)),
        modals.rotate_modal(view, meta(text)),
        modals.rotate_modal(view, ModalMeta(name=view.name, sub_type="Password")),
        modals.toggle_custom(modals.rotate_modal(view, ModalMeta(name=view.name)), meta(text)),
        modals.delete_modal(meta(text)),
        modals.delete_confirm_modal(meta(text)),
        modals.delete_confirm_modal(ModalMeta(name="acs/ecs/a", now=True, reason=text)),
        modals.notice_modal("Rotate secret", text),
        modals.loading_modal("Rotate secret", text),
    ]


def all_messages(text: str) -> list[tuple[str, list[dict[str, Any]]]]:
    found: list[tuple[str, list[dict[str, Any]]]] = [
        messages.help_message(["help", "create", "rotate", "list"]),
        messages.help_message(["help"], "delete"),
        messages.dry_run_message(s.dry_run(text)),
        messages.held_notice(s.held(), "C0INC"),
        messages.rotation_triggered_message(s.rotate_result(text)),
        messages.rotation_finished_message(s.outcome("failed", text, instance_name=text)),
        messages.rotation_finished_message(s.outcome("completed", "")),
        messages.rotation_finished_message(s.outcome("timed_out", "")),
        messages.rotation_finished_message(
            s.outcome("timed_out", text, seen=(text,) * 3, checks=(text,) * 3)
        ),
        messages.rotation_finished_message(s.outcome("completed", text, custom=True)),
        listings.list_message(s.listing(300, text[:50])),
        listings.show_message(s.secret_view(text=text)),
        listings.pending_message(s.pending_listing(100, text[:50])),
        listings.approvals_message(s.approvals_listing(40, text)),
        listings.audit_message(s.audit_trail(60, text), "web-3-root"),
        listings.whoami_message(s.who()),
        ("error", messages.error_blocks(esc(text))),
    ]
    for status in ("pending", "executed", "denied", "expired", "failed"):
        found.append(
            approvals.approval_card(
                s.approval_row(status, reason=text),
                progress=text,
                approvers=("slack:usergroup:SSEC",),
            )
        )
    for result in s.results():
        build = {
            "RotateResult": messages.rotation_triggered_message,
            "DeleteResult": messages.deletion_message,
            "RestoreResult": messages.restored_message,
            "RotationPolicyResult": messages.rotation_policy_message,
            "CreateResult": messages.created_message,
        }[type(result).__name__]
        found.append(build(result))  # type: ignore[operator]
    return found


@pytest.mark.parametrize("text", ["plain", LONG, "<!channel> & <@U1|x>"])
def test_every_modal_is_within_limits(text: str) -> None:
    for view in all_modals(text):
        assert problems(view, kind="modal") == [], view["callback_id"]


@pytest.mark.parametrize("text", ["plain", LONG, "<!channel> & <@U1|x>"])
def test_every_message_is_within_limits(text: str) -> None:
    for fallback, blocks in all_messages(text):
        assert fallback
        assert problems(blocks, kind="message") == [], fallback[:80]


@pytest.mark.parametrize("text", ["plain", LONG])
def test_app_home_is_within_limits(text: str) -> None:
    view = home.home_view(
        approvals=s.approvals_listing(60, text),
        pending=s.pending_listing(100, text[:40]),
        activity=s.audit_trail(10, text),
        activity_lines=listings.audit_message(s.audit_trail(10, text)),
    )
    assert problems(view, kind="home") == []
    refused = home.home_view(approvals="not allowed", pending="not allowed", activity="no")
    assert problems(refused, kind="home") == []


def shown_text(node: Any) -> str:
    """Return the text Slack renders from blocks (not button values)."""
    if isinstance(node, dict):
        return " ".join(shown_text(v) for k, v in node.items() if k != "value")
    if isinstance(node, list):
        return " ".join(shown_text(v) for v in node)
    return str(node)


def test_typed_text_cannot_mention_everyone() -> None:
    for _, blocks in all_messages("<!channel>"):
        assert "<!channel>" not in shown_text(blocks)


def test_a_restore_button_fits_the_reader() -> None:
    rows = s.pending_listing(2).rows
    labels = [listings.restore_button(row)["text"]["text"] for row in rows]  # type: ignore[index]
    assert labels == ["Restore", "Request restore"]


def test_destructive_buttons_are_danger_with_a_confirm() -> None:
    confirm = modals.delete_confirm_modal(ModalMeta(name="acs/ecs/a", now=True))
    go = confirm["blocks"][1]["elements"][0]
    assert go["style"] == "danger" and go["confirm"]["style"] == "danger"


def test_approving_a_deletion_asks_for_confirmation_and_denying_does_not() -> None:
    # issue 12 item 5: Approve may run "delete immediately, no recovery window"
    _, card = approvals.approval_card(s.approval_row(), progress="0/1", approvers=())
    approve, deny = card[-1]["elements"]
    assert approve["action_id"] == Action.APPROVE and approve["style"] == "primary"
    assert approve["confirm"]["style"] == "danger"
    assert "delete immediately" in approve["confirm"]["text"]["text"]
    assert deny["style"] == "danger" and "confirm" not in deny
    restore = replace(s.approval_row(), action="kms:RestoreSecret", params={})
    _, card = approvals.approval_card(restore, progress="0/1", approvers=())
    assert all("confirm" not in button for button in card[-1]["elements"])


def test_private_metadata_is_ids_only_and_within_limits() -> None:
    key = b"k" * 32
    long = ModalMeta(name="acs/ecs/a", reason=LONG * 2, key=key)
    assert len(long.dump()) <= 3000
    assert ModalMeta.load(long.dump(), key=key).name == "acs/ecs/a"
    assert "k" * 32 not in long.dump()
    for junk in ("", "{", "[]", '{"days": "7", "now": 1, "name": 5}', None, 7):
        assert ModalMeta.load(junk, key=key).days is None
    junk_sealed = seal('{"days": "7", "now": 1, "name": 5}', key)
    assert ModalMeta.load(junk_sealed, key=key) == ModalMeta()


def test_private_metadata_is_sealed_so_an_edited_one_reads_as_empty() -> None:
    # issue 12 item 12: the channel a modal carries decides channel conditions
    key = b"k" * 32
    text = ModalMeta(name="acs/ecs/a", channel_id="C0INC", days=7, key=key).dump()
    assert ModalMeta.load(text, key=key).channel_id == "C0INC"
    assert sealed(text, key) and sealed("", key)
    edited = text.replace("C0INC", "C0ADM")
    assert not sealed(edited, key) and ModalMeta.load(edited, key=key) == ModalMeta()
    assert not sealed(text, b"o" * 32)  # another bot's key
    unsealed = text.partition(".")[2]
    assert not sealed(unsealed, key) and ModalMeta.load(unsealed, key=key).name == ""


def test_the_limit_checker_finds_broken_views() -> None:
    broken = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "A title that is far too long"},
        "blocks": [
            {"type": "section", "block_id": "a", "text": {"type": "mrkdwn", "text": "x" * 3001}}
        ]
        * 101,
        "private_metadata": "x" * 3001,
    }
    found = problems(broken, kind="modal")
    assert any("title" in p for p in found) and any("101 blocks" in p for p in found)
    assert any("duplicate block_id" in p for p in found)
    assert any("private_metadata" in p for p in found)
    assert any("3000" in p for p in found)


def test_each_end_of_a_rotation_is_said_as_such() -> None:
    def said(outcome: object) -> str:
        text, blocks = messages.rotation_finished_message(outcome)  # type: ignore[arg-type]
        return text + " " + shown_text(blocks)

    assert "Rotation completed on `i-web3` (web-3)" in said(s.outcome("completed", ""))
    custom = said(s.outcome("completed", "", custom=True, checks=("that it logs in",)))
    assert "completed on" not in custom
    assert "KMS accepted the custom value of `web-3-root` as its current version" in custom
    assert "can't be confirmed by KMS" in custom and "Check that it logs in." in custom
    late = said(
        s.outcome(
            "timed_out",
            "",
            seen=("the new version stayed ACSPending", "LastRotationDate is not set"),
            checks=("the instance's Cloud Assistant", "the KMS console"),
        )
    )
    assert "not confirmed by <!date^" in late
    assert "the new version stayed ACSPending; LastRotationDate is not set" in late
    assert "It may still finish." in late
    assert "Check the instance's Cloud Assistant; the KMS console." in late
    assert "`/ecs-secret show web-3-root`" in late
    failed = said(s.outcome("failed", "KMS marked it Invalid", checks=("the event",)))
    assert "Rotation failed: KMS marked it Invalid." in failed
    assert "Check the event. Then `/ecs-secret rotate web-3-root` again." in failed


def plain_texts(node: Any) -> list[str]:
    """Return every ``plain_text`` string of a view or message (headers, options, labels)."""
    if isinstance(node, dict):
        own = [str(node["text"])] if node.get("type") == "plain_text" else []
        return own + [t for v in node.values() for t in plain_texts(v)]
    if isinstance(node, list):
        return [t for v in node for t in plain_texts(v)]
    return []


def test_plain_text_places_carry_no_markup() -> None:
    # issue 12 item 10: Slack shows backticks and &amp; literally in plain text
    _, blocks = listings.list_message(s.listing(2, "a&b"))
    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["text"] == '2 ECS secret(s) matching "a&b"'
    for text in plain_texts(blocks):
        assert "`" not in text and "&amp;" not in text


def test_app_home_words_actions_for_people() -> None:
    # issue 12 item 10: App Home showed the raw kms:DeleteSecret
    view = home.home_view(
        approvals=s.approvals_listing(2),
        pending=s.pending_listing(1),
        activity=s.audit_trail(2),
        activity_lines=listings.audit_message(s.audit_trail(2)),
    )
    shown = shown_text(view)
    assert "kms:" not in shown
    assert "delete, asked by" in shown and "rotate `web-3-root`" in shown


def test_a_custom_key_field_says_a_4096_bit_key_needs_the_terminal() -> None:
    # issue 12 item 9: RSA-4096 keys (3,243-3,361 characters) exceed Slack's 3,000
    view = s.secret_view()
    meta = ModalMeta(name=view.name, sub_type="SSHKey", custom=True)
    rotate = modals.rotate_modal(view, meta)
    [key] = [b for b in rotate["blocks"] if b.get("block_id") == Block.PRIVATE_KEY]
    assert key["element"]["max_length"] == 3000
    hint = key["hint"]["text"]
    assert "RSA-4096" in hint and "ecs-secret rotate acs/ecs/web-3-root --custom" in hint
    assert "--private-key-file" in hint and "`" not in hint


def test_show_gives_the_public_ips_the_elastic_ip_included() -> None:
    _, blocks = listings.show_message(s.secret_view())
    assert "*Public IP*\n47.96.10.20, 120.55.1.2" in shown_text(blocks)


def test_principals_in_the_cores_sentences_are_said_as_mentions() -> None:
    said = with_mentions("Approved by slack:user:USEC1, slack:usergroup:S01SRE; it runs now.")
    assert said == "Approved by <@USEC1>, <!subteam^S01SRE>; it runs now."
    assert with_mentions("Approved by slack:user:T0123ABCD/U0456.") == "Approved by <@U0456>."
    assert with_mentions("slack:user:* may ask") == "slack:user:* may ask"  # no one to mention
    assert mention("slack:user:T0123ABCD/U0456") == "<@U0456>"
