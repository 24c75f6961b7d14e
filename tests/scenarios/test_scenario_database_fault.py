"""Transcripts of PostgreSQL going away under load, and coming back.

A real ``serve`` process on a PostgreSQL of this module's own (the session's server is never
stopped), a sandbox cloud beside it, fake Slack in front. While requests keep arriving
(slash commands, Approve and Restore clicks, rotate modals submitted anew) and a rotation
is being followed, PostgreSQL is stopped for ``OUTAGE`` seconds (10 by default; set
``DB_OUTAGE_SECONDS`` to shorten it on a slow CI). Each request in that window is answered
in words (the database is unreachable, nothing was changed, try again), nothing is
half-done (every cloud call the sandbox saw has its audit entries, every audit entry its
call, and the chain verifies), the process keeps running and, once PostgreSQL is back,
serves again and reports the rotation it was following, without a restart.

The duties must survive a tick that failed on the database too: checked in-process, over a
short outage, with a runner ticking every 0.2 s (a failed tick is retried at the next). And a
change the cloud made while the database went away is told as done, with what not to do
again, and is followed and audited once the database is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeSlackAPI, RecordedCall
from fakes import workspace as ws
from fakes.bot import SEC, SRE
from fakes.cloud import REGIONS
from fakes.core import CoreHarness, actor
from fakes.payloads import (
    block_actions_payload,
    input_state,
    select_state,
    slash_command_body,
    view_submission_payload,
)
from fakes.policies import access_toml
from fakes.postgres import PostgresServer
from fakes.serve_process import ServeProcess, serve_config
from fakes.slack_messages import Message

from ecs_secret_bot.bot.ids import Action, Block, Callback
from ecs_secret_bot.commands.duties import DutyRunner
from ecs_secret_bot.commands.operations.rotate import rotate_secret
from ecs_secret_bot.commands.outcomes import RotateResult
from ecs_secret_bot.commands.requests import RotateRequest
from ecs_secret_bot.commands.tracker import RotationOutcome, RotationTracker, follow_rotation
from ecs_secret_bot.commands.unrecorded import ChangeNotRecorded
from ecs_secret_bot.config import load_settings
from ecs_secret_bot.errors import Subcommand
from ecs_secret_bot.runtime import open_storage
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage import audit, rotations

OUTAGE = float(os.environ.get("DB_OUTAGE_SECONDS", "10"))
"""How long PostgreSQL stays stopped: the issue's 10 s unless the environment says less."""
MUTATIONS = ("RotateSecret", "PutSecretValue", "DeleteSecret", "RestoreSecret", "CreateSecret")
REFUSED = ("unreachable", "nothing was changed", "try again")


@pytest.fixture(scope="module")
def outage_server(postgres_server: PostgresServer) -> Iterator[PostgresServer]:
    """A PostgreSQL of this module's own, to stop and start (skipped where none can run)."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def outage_url(outage_server: PostgresServer) -> Iterator[str]:
    """A fresh database on the server the tests stop; the server is running again after."""
    url = outage_server.create_database()
    yield url
    if not outage_server.running:
        outage_server.start()
    outage_server.drop_database(url)


@pytest.fixture
async def cloud() -> AsyncIterator[Sandbox]:
    """A seeded sandbox beside the bot: it outlives the database's outage."""
    sandbox = Sandbox(seed=True, rotation_delay=0.5)
    await sandbox.start(port=0, grace=0.5)
    try:
        yield sandbox
    finally:
        await sandbox.stop()


@dataclass
class Answer:
    """One request sent, and what the person who sent it was told."""

    kind: str
    sent: float
    answered: float
    text: str

    def refused(self) -> bool:
        """Say whether it was refused because the database was away, in words."""
        return all(words in self.text for words in REFUSED)


async def told(
    bot: ServeProcess, body: str, *, response_url: str, since: int, ran: str = ""
) -> str:
    """Send one signed request; return what its sender is told: the ack, or what was
    posted to its ``response_url`` (or, if it ran, the channel message saying ``ran``)."""
    response = await bot.driver.post(body)
    assert response.status == 200, response.body
    acked = response.json() if response.body.strip() else None
    if acked:
        return str(acked)
    path = response_url.rsplit("/hooks/", 1)[1] if response_url else "-"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for call in bot.slack.calls[since:]:
            if call.method == "response_url" and call.path.endswith(path):
                return call.text()
            if ran and call.method == "chat.postMessage" and ran in call.payload.get("text", ""):
                return call.text()
        await asyncio.sleep(0.05)
    seen = [(c.method, c.text()[:300]) for c in bot.slack.calls[since:]]
    raise AssertionError(f"no answer to {body[:100]} (ack {acked}): {seen}")


async def schedule_deletion(bot: ServeProcess, name: str, mode: str) -> None:
    """Ask for ``name`` to be deleted (``now`` or in 10 days) through the modal."""
    opened = len(bot.slack.calls_to("views.open"))
    await bot.command(f"delete {name} " + ("--now" if mode == "now" else "--days 10"))
    await bot.slack.wait_for_calls("views.open", count=opened + 1)
    values = {
        Block.DELETE_MODE: {Action.DELETE_MODE: select_state(mode, type="radio_buttons")},
        Block.DAYS: {Action.DAYS: input_state("10", type="number_input")},
        Block.CONFIRM_NAME: {Action.CONFIRM_NAME: input_state(name if mode == "now" else "")},
        Block.REASON: {Action.REASON: input_state("clean-up")},
    }
    answer = (await bot.submit(bot.modal(), values)).json()
    assert answer["response_action"] == "update", answer
    await bot.click(Action.DELETE_GO, view=bot.modal(), block_id=Block.DELETE_GO, value="go")


async def open_rotate_modal(bot: ServeProcess, name: str) -> dict[str, Any]:
    """Type ``/ecs-secret rotate name``; return the rotate modal once it is filled."""

    def rotate_modal(call: RecordedCall) -> bool:
        return bool(call.payload.get("view", {}).get("callback_id") == Callback.ROTATE)

    updated = len([c for c in bot.slack.calls_to("views.update") if rotate_modal(c)])
    await bot.command(f"rotate {name}")
    await bot.slack.wait_for_calls(
        "views.update", count=updated + 1, predicate=rotate_modal, timeout=15
    )
    return bot.modal()


def message_with(slack: FakeSlackAPI, words: str) -> Message:
    return next(m for m in slack.messages(ws.INCIDENT_CHANNEL_ID) if words in m.text)


def button_value(message: Message, action_id: str) -> str:
    for block in message.blocks:
        for element in block.get("elements", []) + [block.get("accessory") or {}]:
            if element.get("action_id") == action_id:
                return str(element["value"])
    raise AssertionError(f"no {action_id} button in {message.blocks}")


async def test_postgresql_stopped_under_load_refuses_in_words_half_does_nothing_and_recovers(
    tmp_path: Path,
    outage_server: PostgresServer,
    outage_url: str,
    cloud: Sandbox,
    slack_api: FakeSlackAPI,
) -> None:
    slack_api.set_usergroup(SRE, [ws.ALICE_ID], handle="sre")
    slack_api.set_usergroup(SEC, [ws.ADMIN_ID], handle="security")
    policies = access_toml(
        admins=[f"slack:usergroup:{SRE}", f"slack:usergroup:{SEC}"],
        channel=ws.SECOPS_CHANNEL_ID,
        delete_approvers=[f"slack:usergroup:{SEC}"],
    )
    config = serve_config(tmp_path, cloud_url=cloud.url, policies=policies, database_url=outage_url)
    bot = await ServeProcess.start(config, slack=slack_api)
    try:
        # Before: a deletion waits for security's approval, another is scheduled, and a
        # rotation is triggered whose instance takes longer than the outage.
        await schedule_deletion(bot, "batch-7-root", "now")
        await schedule_deletion(bot, "web-4-ecs-user-key", "schedule")
        await slack_api.wait_for(
            "chat.postMessage", lambda c: "scheduled for deletion" in c.payload.get("text", "")
        )
        card = message_with(slack_api, "Approval request")
        scheduled = message_with(slack_api, "scheduled for deletion")
        approve, restore = (
            button_value(card, Action.APPROVE),
            button_value(scheduled, Action.RESTORE),
        )
        rotate_modal = await open_rotate_modal(bot, "win-app-1-admin")
        reason = {Block.REASON: {Action.REASON: input_state("leaked")}}
        cloud.rotation_delay = OUTAGE + 3
        assert (await bot.submit(await open_rotate_modal(bot, "web-3-root"), reason)).status == 200
        await slack_api.wait_for(
            "chat.postMessage",
            lambda c: "Rotation triggered" in c.payload.get("text", ""),
            timeout=15,
        )
        cloud.rotation_delay = 0.3

        def slash(text: str) -> tuple[str, str]:
            url = slack_api.response_url(channel_id=ws.INCIDENT_CHANNEL_ID, user_id=ws.ALICE_ID)
            return slash_command_body(
                text, user_id=ws.ALICE_ID, channel_id=ws.INCIDENT_CHANNEL_ID, response_url=url
            ), url

        def click(action: str, value: str, message: Message, user: str) -> tuple[str, str]:
            url = slack_api.response_url(channel_id=message.channel, user_id=user)
            return block_actions_payload(
                action,
                value=value,
                user_id=user,
                message=message,
                channel_id=message.channel,
                response_url=url,
            ), url

        opened = itertools.count(1)

        def again(view: dict[str, Any], values: dict[str, Any]) -> str:
            """Submit the same modal as opened anew (its own view id: its own request)."""
            fresh = {**view, "id": f"{view['id']}-{next(opened)}"}
            return view_submission_payload(view=fresh, values=values, user_id=ws.ALICE_ID)

        requests: dict[str, tuple[Callable[[], tuple[str, str]], str]] = {
            "pending": (lambda: slash("pending"), ""),
            "approve": (lambda: click(Action.APPROVE, approve, card, ws.ADMIN_ID), "deleted"),
            "restore": (lambda: click(Action.RESTORE, restore, scheduled, ws.ALICE_ID), "restored"),
            "rotate": (lambda: (again(rotate_modal, reason), ""), ""),
        }
        answers: list[Answer] = []
        phase = {"down": False}
        stop_load = asyncio.Event()

        async def stream(kind: str) -> None:
            make, ran = requests[kind]
            while not stop_load.is_set():
                if kind in ("approve", "restore") and not phase["down"]:
                    await asyncio.sleep(0.05)  # these wait for the outage, then keep coming
                    continue
                body, url = make()
                sent, since = time.monotonic(), len(slack_api.calls)
                text = await told(bot, body, response_url=url, since=since, ran=ran)
                answers.append(Answer(kind, sent, time.monotonic(), text))
                await asyncio.sleep(0.2)

        down = up = 0.0
        loaders = [asyncio.create_task(stream(kind)) for kind in requests]
        try:
            await asyncio.sleep(1.0)
            await asyncio.to_thread(outage_server.stop)
            down, phase["down"] = time.monotonic(), True
            await asyncio.sleep(OUTAGE)
            up = time.monotonic()
            await asyncio.to_thread(outage_server.start)
            await asyncio.sleep(4.0)
        finally:
            stop_load.set()
            await asyncio.gather(*loaders)
        assert bot.proc.returncode is None, "serve died while the database was away"
        # The rotation followed through the outage is reported, by the same process.
        await slack_api.wait_for(
            "chat.update",
            lambda c: (
                "Rotation completed" in c.payload.get("text", "")
                and "web-3-root" in c.payload.get("text", "")
            ),
            timeout=30,
        )
        # Afterwards the records agree with the cloud.
        db = await open_storage(load_settings(config))
        try:
            entries = await audit.list_audit(db, limit=100_000)
            assert (await audit.verify_audit_chain(db)).ok
        finally:
            await db.close()
    finally:
        stopped = await bot.terminate(timeout=30)
    assert stopped.returncode == 0, stopped.stderr[-3000:]

    said = "\n".join(f"{a.kind} {a.sent - down:.2f}s: {a.text[:300]}" for a in answers)
    # Each request is answered in words: refused because the database is away, or done
    # as usual; never an unknown error with a reference.
    assert all("reference" not in a.text for a in answers), said
    # Every request that began and ended while the database was away was refused, saying
    # so; each kind was refused at least once, and each was served again after.
    window = [a for a in answers if down <= a.sent and a.answered < up]
    assert window and all(a.refused() for a in window), said
    assert {a.kind for a in window} == set(requests), said
    after = [a for a in answers if a.sent > up + 2.0]
    assert {a.kind for a in after if not a.refused()} == set(requests), said
    # Nothing half-done: each call that changed the cloud has its intent in the audit log,
    # each intent its call, and each intent its outcome.
    for action in MUTATIONS:
        started = [e for e in entries if e.action == f"kms:{action}" and e.outcome == "started"]
        assert len(started) == cloud.calls.total(action), (action, len(started))
    ended = {e.correlation_id for e in entries if e.outcome != "started"}
    unfinished = [e for e in entries if e.outcome == "started" and e.correlation_id not in ended]
    assert not unfinished, unfinished
    assert cloud.calls.total("DeleteSecret") == 2  # the scheduled one, and the approved one once
    assert cloud.calls.total("RestoreSecret") == 1
    assert cloud.kms.find("cn-hangzhou", "acs/ecs/batch-7-root") is None


class SaidNothing:
    """The duties' notifier, keeping only the ends of rotations it is told."""

    def __init__(self) -> None:
        self.rotations: list[str] = []

    async def rotation_finished(self, outcome: RotationOutcome) -> None:
        self.rotations.append(f"{outcome.secret_name} {outcome.state}")

    def __getattr__(self, name: str) -> Callable[..., Awaitable[None]]:
        async def nothing(*args: object, **kwargs: object) -> None:
            return None

        return nothing


async def test_the_duties_survive_a_tick_that_failed_on_the_database(
    tmp_path: Path, outage_server: PostgresServer, outage_url: str
) -> None:
    async with Sandbox(regions=REGIONS, seed=True, rotation_delay=0.3) as sandbox:
        h = await CoreHarness.start(tmp_path, sandbox, database_url=outage_url)
        notes = SaidNothing()
        duties = DutyRunner(
            h.core,
            notes,
            owner="p1",
            interval=timedelta(seconds=0.2),
            tracker=RotationTracker(h.core, notes),
        )
        stop = asyncio.Event()
        running = asyncio.create_task(duties.run(stop))
        try:
            await asyncio.sleep(0.5)  # ticks on a database that answers
            await asyncio.to_thread(outage_server.stop)
            await asyncio.sleep(2.0)  # ticks the database refuses
            await asyncio.to_thread(outage_server.start)
            await asyncio.sleep(1.0)  # what was refused has had its answer
            assert not running.done(), "the duties ended while the database was away"
            # Back: a rotation nobody follows is found and reported by the next tick.
            result = await rotate_secret(
                RotateRequest("web-3-root"), actor=actor("UADMIN", "SSRE"), core=h.core
            )
            assert isinstance(result, RotateResult)
            deadline = time.monotonic() + 10
            while notes.rotations != ["acs/ecs/web-3-root completed"]:
                assert time.monotonic() < deadline, notes.rotations
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            with contextlib.suppress(Exception):  # what ended the duties is asserted above
                await asyncio.wait_for(running, 5)
            await duties.tracker.drain(2.0)
            await h.close()


async def test_a_rotation_kms_carried_out_as_the_database_went_away_is_not_said_undone(
    tmp_path: Path, outage_server: PostgresServer, outage_url: str
) -> None:
    async with Sandbox(regions=REGIONS, seed=True, rotation_delay=0.3) as sandbox:
        h = await CoreHarness.start(tmp_path, sandbox, database_url=outage_url)
        try:
            sandbox.faults.add(action="RotateSecret", kind="latency", latency=2.0, times=1)
            rotating = asyncio.create_task(
                rotate_secret(
                    RotateRequest("web-3-root", request_id="view:V1"),
                    actor=actor("UADMIN", "SSRE"),
                    core=h.core,
                )
            )
            deadline = time.monotonic() + 10
            while not sandbox.calls.total("RotateSecret"):  # intent audited, call under way
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            await asyncio.to_thread(outage_server.stop)
            try:
                answer: object = await rotating
            except Exception as exc:  # what the person would be told
                answer = exc
            assert sandbox.calls.total("RotateSecret") == 1  # KMS rotated it
            assert "nothing was changed" not in str(answer), answer
            assert isinstance(answer, ChangeNotRecorded), answer
            assert answer.user_message == (
                "Rotation of web-3-root was triggered in KMS, but the bot could not record "
                "it because its database is unreachable."
            )
            assert answer.next_step.command == Subcommand("show", ("web-3-root",))
            # Back: the rotation it left starting is followed to its end, and audited.
            await asyncio.to_thread(outage_server.start)
            [row] = await rotations.active_rotations(h.core.db)
            assert (row.status, row.id) == ("starting", answer.did.record_id)
            assert (await follow_rotation(row.id, core=h.core)).state == "completed"
            ends = [e.outcome for e in await audit.list_audit(h.core.db)]
            assert "rotation completed" in ends
        finally:
            if not outage_server.running:
                await asyncio.to_thread(outage_server.start)
            await h.close()
