"""The modals: create, rotate (loading, then the secret, then its custom-value fields),
delete (then its confirmation with a danger button), and notices.

Pure builders returning view dicts. Value fields are ``plain_text_input`` (Slack has no
password input); their hint says the value goes only to KMS and is never shown. No
builder is ever given a value: a modal rebuilt after a switch starts with empty fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ecs_secret_bot.bot.ids import Action, Block, Callback
from ecs_secret_bot.bot.metadata import ModalMeta
from ecs_secret_bot.bot.views.blocks import (
    Block as BlockDict,
)
from ecs_secret_bot.bot.views.blocks import (
    actions,
    button,
    confirm_dialog,
    context,
    esc,
    fields_section,
    plain,
    section,
    short_name,
    slack_date,
    user_label,
)
from ecs_secret_bot.bot.views.forms import (
    form_input,
    form_modal,
    option,
    reason_input,
    text_element,
)
from ecs_secret_bot.commands.queries.detail import SecretView

__all__ = [
    "KEY_LIMIT_HINT",
    "VALUE_HINT",
    "create_modal",
    "delete_confirm_modal",
    "delete_modal",
    "loading_modal",
    "notice_modal",
    "rotate_modal",
    "toggle_custom",
]

VALUE_HINT = (
    "Sent only to KMS, over TLS. The bot never shows, logs or stores it in clear "
    "(while waiting for an approval it is kept encrypted, then erased)."
)
KEY_LIMIT_HINT = (
    " Slack takes at most 3,000 characters: an RSA-4096 key (about 3,250) does not fit; use "
    "the terminal for one: ecs-secret {command} --private-key-file key.pem."
)


def notice_modal(
    title: str, text: str, *, back: bool = False, external_id: str = "", final: bool = False
) -> dict[str, Any]:
    """Return a modal that only says something (a result, an error, "working").

    ``back``: closing it returns to the form under it; ``final``: closing closes them all.
    """
    view = form_modal(Callback.RESULT, title, [section(text)], close="Back" if back else "Close")
    if external_id:
        view["external_id"] = external_id
    if final:
        view["clear_on_close"] = True
    return view


def loading_modal(title: str, what: str) -> dict[str, Any]:
    """Return the modal shown at once while slow data loads."""
    return form_modal(Callback.LOADING, title, [section(f":hourglass_flowing_sand: {what}")])


def create_modal(*, regions: Sequence[str], region: str, meta: ModalMeta) -> dict[str, Any]:
    """Return the create modal; its instance picker offers ``region``'s instances.

    The region select dispatches its change: Slack sends an external select's suggestions
    no unsubmitted input, so the modal is rebuilt with the new region in its metadata.
    """
    region_options = [option(r, r) for r in regions][:100]
    initial = next((o for o in region_options if o["value"] == region), region_options[0])
    meta = replace(meta, region=initial["value"])
    blocks: list[BlockDict] = [
        form_input(
            Block.NAME,
            "Secret name",
            text_element(Action.NAME, placeholder="web-3-root (acs/ecs/ is added)", max_length=192),
            hint="Letters, digits and / _ + = . @ - ; with or without acs/ecs/.",
        ),
        form_input(
            Block.REGION,
            "Region",
            {
                "type": "static_select",
                "action_id": Action.REGION,
                "options": region_options,
                "initial_option": initial,
            },
            dispatch=True,
        ),
        form_input(
            Block.INSTANCE,
            "ECS instance",
            {
                "type": "external_select",
                "action_id": Action.INSTANCE,
                "placeholder": plain("Type an instance name or id", 150),
                "min_query_length": 0,
            },
            hint="Instances of the region chosen above, from ECS DescribeInstances.",
        ),
        form_input(
            Block.USER, "User name", text_element(Action.USER, initial="root", max_length=64)
        ),
        form_input(
            Block.KIND,
            "Credential",
            {
                "type": "radio_buttons",
                "action_id": Action.KIND,
                "options": [option("Password", "Password"), option("SSHKey", "SSH key pair")],
                "initial_option": option("Password", "Password"),
            },
        ),
        form_input(
            Block.PASSWORD,
            "Current password (for Password)",
            text_element(Action.PASSWORD, placeholder="The user's password today", max_length=64),
            optional=True,
            hint=VALUE_HINT,
        ),
        form_input(
            Block.PRIVATE_KEY,
            "Current private key, PEM (for SSH key)",
            text_element(Action.PRIVATE_KEY, multiline=True, max_length=3000),
            optional=True,
            hint=VALUE_HINT
            + " The public key is derived from it."
            + KEY_LIMIT_HINT.format(command="create NAME --instance ID --kind ssh-key"),
        ),
        form_input(
            Block.AUTO_ROTATE,
            "Automatic rotation",
            {
                "type": "checkboxes",
                "action_id": Action.AUTO_ROTATE,
                "options": [option("on", "Rotate automatically")],
            },
            optional=True,
        ),
        form_input(
            Block.INTERVAL,
            "Rotation interval",
            text_element(Action.INTERVAL, placeholder="7d (6h to 365d)", max_length=16),
            optional=True,
            hint="With a unit: 6h, 7d, 168h. Empty means 7 days.",
        ),
        form_input(
            Block.DESCRIPTION,
            "Description",
            text_element(Action.DESCRIPTION, max_length=1024),
            optional=True,
        ),
        reason_input(),
    ]
    title = "Create (dry run)" if meta.dry_run else "Create ECS secret"
    submit = "Show dry run" if meta.dry_run else "Create"
    return form_modal(Callback.CREATE, title, blocks, meta=meta, submit=submit)


def _summary(view: SecretView) -> list[BlockDict]:
    instance = f"`{esc(view.instance_id)}`"
    if view.instance_name:
        instance += f" ({esc(view.instance_name)})"
    if view.instance_status:
        instance += f", {esc(view.instance_status)}"
    kind = "Password" if view.sub_type == "Password" else "SSH key pair"
    rotation = esc(view.automatic_rotation or "Disabled")
    pairs = [
        ("Secret", f"`{esc(view.short_name)}` ({view.region})"),
        ("Instance", instance),
        ("User", user_label(view.user_name)),
        ("Type", kind),
        ("Last rotation", slack_date(view.last_rotation)),
        ("Automatic rotation", rotation),
    ]
    blocks = fields_section(pairs)
    blocks[0]["block_id"] = Block.SUMMARY
    return blocks


def rotate_modal(view: SecretView, meta: ModalMeta) -> dict[str, Any]:
    """Return the rotate modal for a secret; with ``meta.custom`` the value fields show."""
    blocks: list[BlockDict] = list(_summary(view))
    for note in view.notes:
        blocks.append(context(esc(note)))
    custom = view.rotate_custom
    generated = view.rotate_generated
    if generated is not None and generated.needs_approval:
        blocks.append(
            context(f"A generated rotation needs approval (rule `{esc(generated.rule)}`).")
        )
    if custom is not None and custom.may_ask:
        use_custom = option("custom", "Use custom secret")
        switch: dict[str, Any] = {
            "type": "checkboxes",
            "action_id": Action.USE_CUSTOM,
            "options": [use_custom],
        }
        if meta.custom:
            switch["initial_options"] = [use_custom]
        blocks.append(actions([switch], block_id=Block.USE_CUSTOM))
        if custom.needs_approval:
            blocks.append(context(f"A custom value needs approval (rule `{esc(custom.rule)}`)."))
    elif custom is not None:
        blocks.append(context(f"A custom value is not open to you: {esc(custom.reason)}."))
    blocks.extend(_custom_blocks(meta))
    blocks.append(reason_input())
    return form_modal(
        Callback.ROTATE, "Rotate secret", blocks, meta=meta, submit="Confirm rotation"
    )


def _custom_blocks(meta: ModalMeta) -> list[BlockDict]:
    """Return the value fields (switch on) or the generated-value note (switch off)."""
    if not meta.custom:
        note = context("KMS will generate the new value (a random password or key pair).")
        note["block_id"] = Block.GENERATED_NOTE
        return [note]
    if meta.sub_type == "Password":
        return [
            form_input(
                Block.PASSWORD,
                "New password",
                text_element(Action.PASSWORD, placeholder="8-32 characters", max_length=64),
                hint=VALUE_HINT,
            ),
            _custom_user(meta),
        ]
    return [
        form_input(
            Block.PRIVATE_KEY,
            "New private key (PEM)",
            text_element(Action.PRIVATE_KEY, multiline=True, max_length=3000),
            hint=VALUE_HINT + KEY_LIMIT_HINT.format(command=f"rotate {meta.name} --custom"),
        ),
        form_input(
            Block.PUBLIC_KEY,
            "Matching public key (optional)",
            text_element(Action.PUBLIC_KEY, multiline=True, max_length=3000),
            optional=True,
            hint="OpenSSH format; derived from the private key when empty.",
        ),
        _custom_user(meta),
    ]


def _custom_user(meta: ModalMeta) -> BlockDict:
    """Return the user field: pre-filled where KMS records the user, asked where not."""
    hint = (
        "As KMS records it (CustomData.UserName): a custom value keeps the secret's user."
        if meta.user_name
        else "KMS does not record this secret's user, and the bot never decrypts the secret "
        "to read it: type the OS user whose credential this is."
    )
    element = text_element(
        Action.USER, placeholder="root, ecs-user, Administrator", initial=meta.user_name
    )
    return form_input(Block.USER, "User", element, hint=hint)


_SWITCHED = frozenset(
    {Block.PASSWORD, Block.PRIVATE_KEY, Block.PUBLIC_KEY, Block.USER, Block.GENERATED_NOTE}
)


def toggle_custom(view: dict[str, Any], meta: ModalMeta) -> dict[str, Any]:
    """Return the rotate modal ``view`` with the custom-value fields shown or hidden."""
    kept = [
        b
        for b in view.get("blocks") or []
        if isinstance(b, dict) and b.get("block_id") not in _SWITCHED
    ]
    at = next((i for i, b in enumerate(kept) if b.get("block_id") == Block.REASON), len(kept))
    kept[at:at] = _custom_blocks(meta)
    return form_modal(Callback.ROTATE, "Rotate secret", kept, meta=meta, submit="Confirm rotation")


def delete_modal(meta: ModalMeta) -> dict[str, Any]:
    """Return the delete modal: schedule in N days, or delete at once (name typed)."""
    name = esc(short_name(meta.name))
    schedule = option("schedule", "Schedule deletion (can be restored until then)")
    now = option("now", "Delete immediately (cannot be undone)")
    blocks: list[BlockDict] = [
        section(f"Delete `{name}`{f' ({meta.region})' if meta.region else ''}?"),
        form_input(
            Block.DELETE_MODE,
            "How",
            {
                "type": "radio_buttons",
                "action_id": Action.DELETE_MODE,
                "options": [schedule, now],
                "initial_option": now if meta.now else schedule,
            },
        ),
        form_input(
            Block.DAYS,
            "Days before deletion (7-30)",
            {
                "type": "number_input",
                "action_id": Action.DAYS,
                "is_decimal_allowed": False,
                "min_value": "7",
                "max_value": "30",
                "initial_value": str(meta.days or 30),
            },
            optional=True,
        ),
        form_input(
            Block.CONFIRM_NAME,
            "To delete immediately, type the secret's name",
            text_element(
                Action.CONFIRM_NAME, placeholder=short_name(meta.name)[:150], max_length=200
            ),
            optional=True,
        ),
        reason_input(),
    ]
    title = "Delete (dry run)" if meta.dry_run else "Delete secret"
    return form_modal(Callback.DELETE, title, blocks, meta=meta, submit="Review")


def delete_confirm_modal(meta: ModalMeta) -> dict[str, Any]:
    """Return the last step: a danger button with a confirmation dialog."""
    name = esc(short_name(meta.name))
    if meta.now:
        what = f"Delete `{name}` *immediately*. KMS keeps no recovery window: it cannot be undone."
        label, confirm = "Delete now", "Delete now"
    else:
        what = (
            f"Schedule deletion of `{name}` in *{meta.days} days*. Until then it can be "
            "restored with `/ecs-secret restore` or the Restore button."
        )
        label, confirm = "Schedule deletion", "Schedule"
    go = button(
        label,
        Action.DELETE_GO,
        value="go",
        style="danger",
        confirm=confirm_dialog("Are you sure?", what.replace("*", ""), confirm=confirm),
    )
    blocks = [section(what), actions([go], block_id=Block.DELETE_GO)]
    if meta.reason:
        blocks.insert(1, context(f"Reason: {esc(meta.reason)}"))
    return form_modal(
        Callback.DELETE_CONFIRM, "Confirm deletion", blocks, meta=meta, close="Cancel"
    )
