"""Socket Mode for real: the bot connects through ``apps.connections.open`` to a fake
Socket Mode server that pushes envelopes; each is acked, and an event sent twice (Socket
Mode carries no retry headers to tell) is handled once."""

from __future__ import annotations

from pathlib import Path

from fakes import (
    FakeSlackAPI,
    FakeSocketModeServer,
    app_home_opened_event,
    block_actions_payload,
    event_callback_body,
    slash_command_body,
    view_submission_payload,
)
from fakes import workspace as ws
from fakes.bot import wired_bot
from fakes.payloads import input_state, select_state
from fakes.serving import connect_socket_mode

from ecs_secret_bot.bot.ids import Action, Block, Callback
from ecs_secret_bot.bot.metadata import ModalMeta


async def test_envelopes_are_acked_and_a_repeated_event_is_handled_once(
    tmp_path: Path, slack_api: FakeSlackAPI, socket_mode_server: FakeSocketModeServer
) -> None:
    async with wired_bot(tmp_path, slack_api, app_token=ws.APP_TOKEN) as wired:
        async with connect_socket_mode(wired.app, app_token=ws.APP_TOKEN):
            await socket_mode_server.wait_until_connected()
            server = socket_mode_server

            # a slash command: acked with the help text as the response payload
            command = await server.send_body(slash_command_body("help"))
            ack = await server.wait_for_ack(command)
            assert "/ecs-secret rotate" in str(ack["payload"])

            # a block action: acked, then the click is answered
            click = await server.send_body(
                block_actions_payload(Action.APPROVE, value="no-such-approval")
            )
            await server.wait_for_ack(click)
            await slack_api.wait_for("chat.postEphemeral")

            # a view submission with a mistake: the ack carries the field error
            meta = ModalMeta(
                name="acs/ecs/web-3-root",
                region="cn-hangzhou",
                key=wired.services.metadata_key,  # as the bot sealed it when it opened the modal
            )
            values = {
                Block.DELETE_MODE: {Action.DELETE_MODE: select_state("now", type="radio_buttons")},
                Block.CONFIRM_NAME: {Action.CONFIRM_NAME: input_state("wrong")},
            }
            submission = await server.send_body(
                view_submission_payload(
                    callback_id=Callback.DELETE, values=values, private_metadata=meta.dump()
                )
            )
            errors = (await server.wait_for_ack(submission))["payload"]
            assert errors["response_action"] == "errors"
            assert Block.CONFIRM_NAME in errors["errors"]

            # an event, then the same event again: both acked, App Home published once
            body = event_callback_body(app_home_opened_event(), event_id="Ev0SOCKET0001")
            first = await server.send_body(body)
            again = await server.send_body(body, retry_attempt=1, retry_reason="timeout")
            await server.wait_for_ack(first)
            await server.wait_for_ack(again)
            await slack_api.wait_for("views.publish")
            await wired.services.tasks.drain(2.0)
            assert len(slack_api.calls_to("views.publish")) == 1
