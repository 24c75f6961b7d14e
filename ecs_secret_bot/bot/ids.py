"""Every callback, action and block id the bot puts into Slack, in one place.

Handlers match on these and builders emit them, so a typo is a name error, not a click
that nothing answers. Values are short, stable strings: Slack stores them in messages
that live for weeks, so renaming one orphans the buttons already posted.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Action", "Block", "Callback", "Event"]


class Callback(StrEnum):
    """``callback_id`` of each modal."""

    CREATE = "ecs_create"
    ROTATE = "ecs_rotate"
    DELETE = "ecs_delete"
    DELETE_CONFIRM = "ecs_delete_confirm"
    RESULT = "ecs_result"
    LOADING = "ecs_loading"
    SWEEP = "ecs_sweep"


class Action(StrEnum):
    """``action_id`` of each interactive element."""

    INSTANCE = "instance_pick"
    REGION = "region_pick"
    NAME = "name_input"
    USER = "user_input"
    KIND = "kind_pick"
    PASSWORD = "password_input"
    PRIVATE_KEY = "private_key_input"
    PUBLIC_KEY = "public_key_input"
    AUTO_ROTATE = "auto_rotate"
    INTERVAL = "interval_input"
    DESCRIPTION = "description_input"
    REASON = "reason_input"
    USE_CUSTOM = "use_custom"
    DELETE_MODE = "delete_mode"
    DAYS = "days_input"
    CONFIRM_NAME = "confirm_name_input"
    DELETE_GO = "delete_go"
    RESTORE = "restore"
    APPROVE = "approve"
    DENY = "deny"
    HOME_REFRESH = "home_refresh"
    SWEEP_STOP = "sweep_stop"


class Block(StrEnum):
    """``block_id`` of modal inputs (submission errors are keyed by these)."""

    NAME = "b_name"
    REGION = "b_region"
    INSTANCE = "b_instance"
    USER = "b_user"
    KIND = "b_kind"
    PASSWORD = "b_password"
    PRIVATE_KEY = "b_private_key"
    PUBLIC_KEY = "b_public_key"
    AUTO_ROTATE = "b_auto_rotate"
    INTERVAL = "b_interval"
    DESCRIPTION = "b_description"
    REASON = "b_reason"
    USE_CUSTOM = "b_use_custom"
    DELETE_MODE = "b_delete_mode"
    DAYS = "b_days"
    CONFIRM_NAME = "b_confirm_name"
    DELETE_GO = "b_delete_go"
    SUMMARY = "b_summary"
    GENERATED_NOTE = "b_generated_note"
    APPROVAL_ACTIONS = "b_approval_actions"
    RESTORE_ACTIONS = "b_restore_actions"
    SWEEP_ACTIONS = "b_sweep_actions"


class Event(StrEnum):
    """Events API event types the bot subscribes to."""

    APP_HOME_OPENED = "app_home_opened"
