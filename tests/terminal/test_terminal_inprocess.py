"""The details of ``ecs-secret``'s subcommands, run in this process through ``main.run`` (the
same function the console script runs) against the sandbox: fast, so every case is here."""

from __future__ import annotations

import asyncio
import re

from cli_runner import CliResult
from terminal_harness import LOGIN, Terminal

from ecs_secret_bot.commands.tracker import RotationOutcome
from ecs_secret_bot.terminal.answers import rotation_answer
from ecs_secret_bot.terminal.exit_codes import ExitCode

ME = f"local:user:{LOGIN}"
WEB3 = "i-bp1sbxweb3000000001"
WEB4 = "i-bp1sbxweb4000000002"
VALUE = "Custom#Pw-0123456789-abcdefghijk"  # 32 characters, as long as KMS generates


def ok(result: CliResult) -> CliResult:
    assert result.code == 0, str(result)
    return result


async def test_views_in_text(terminal: Terminal) -> None:
    who = ok(await terminal.inproc("whoami"))
    assert "(at a terminal: no channel, no guardrail)" in who.out
    table = [re.split(r"\s{2,}", line) for line in who.out.splitlines()[3:]]
    rows = {cells[0]: cells[1] for cells in table if len(cells) == 2}
    assert rows["rotate (generated value)"] == "allowed"
    assert rows["delete (immediately)"] == "needs approval (immediate-delete)"
    listing = ok(await terminal.inproc("list"))
    assert len(listing.out.splitlines()) == 6
    show = ok(await terminal.inproc("show", "web-3-root"))
    assert f"instance       {WEB3} web-3 Running (linux)" in show.out
    assert "rotation       Enabled, every 7d" in show.out
    assert ok(await terminal.inproc("pending")).out.strip() == "No deletions are scheduled."
    approvals = ok(await terminal.inproc("approvals")).out
    assert approvals.splitlines() == [
        "Waiting for your approval:",
        "  none",
        "",
        "Your requests:",
        "  none",
    ]
    assert "no entries" in ok(await terminal.inproc("audit")).out
    nothing = ok(await terminal.inproc("list", "zzz"))
    assert nothing.out.strip() == "No dynamic ECS secrets match 'zzz'."


async def test_whoami_json_lists_what_may_be_done(terminal: Terminal) -> None:
    body = ok(await terminal.inproc("whoami", "--json")).json
    assert body["result"]["principal"] == ME and body["result"]["bound"] is True
    kinds = {a["label"]: a["kind"] for a in body["result"]["actions"]}
    assert kinds["rotate (generated value)"] == "run"
    assert kinds["delete (immediately)"] == "hold"


async def test_no_wait_then_follow(terminal: Terminal) -> None:
    terminal.sandbox.rotation_delay = 1.0
    started = ok(await terminal.inproc("rotate", "web-3-root", "--no-wait", "--json")).json
    assert started["rotation"] == "in_progress"
    again = await terminal.inproc("rotate", "web-3-root")
    assert again.code == 6 and "still in progress" in again.err
    assert "`ecs-secret rotate web-3-root --follow` waits for it to finish." in again.err
    followed = ok(await terminal.inproc("rotate", "web-3-root", "--follow"))
    assert "Rotation completed on " + WEB3 in followed.out
    nothing = await terminal.inproc("rotate", "web-3-root", "--follow")
    assert nothing.code == 6 and "No rotation of web-3-root is in flight" in nothing.err


async def test_rotation_that_fails_on_the_instance_exits_5(terminal: Terminal) -> None:
    sandbox = terminal.sandbox
    sandbox.rotation_delay = 0.5
    running = asyncio.ensure_future(terminal.inproc("rotate", "web-3-root"))
    for _ in range(500):
        if sandbox.calls.total("RotateSecret") or running.done():
            break
        await asyncio.sleep(0.01)
    sandbox.set_cloud_assistant("cn-hangzhou", WEB3, False)
    failed = await running
    assert failed.code == 5, str(failed)
    assert "Rotation failed: " in failed.out and "Cloud Assistant" in failed.out


async def test_preflight_refuses_before_any_call(terminal: Terminal) -> None:
    stopped, offline = await asyncio.gather(
        terminal.inproc("rotate", "db-1-root"), terminal.inproc("rotate", "batch-7-root")
    )
    assert stopped.code == 6 and "Stopped" in stopped.err
    assert offline.code == 6 and "Cloud Assistant" in offline.err
    assert terminal.sandbox.calls.total("RotateSecret") == 0


async def test_custom_value_prompt_without_echo_asks_twice(terminal: Terminal) -> None:
    answers = iter(["S3cret-Value-1!", "S3cret-Value-2!"])
    prompts: list[str] = []

    def typed(prompt: str) -> str:
        prompts.append(prompt)
        return next(answers)

    differ = await terminal.inproc("rotate", "web-3-root", "--custom", tty=True, typed=typed)
    assert differ.code == 2 and "The two entries differ; nothing was done." in differ.err
    assert prompts == ["New password: ", "Again, to confirm: "]
    same = await terminal.inproc(
        "rotate", "web-3-root", "--custom", "--json", tty=True, typed=lambda _: "S3cret-Value-1!"
    )
    assert ok(same).json["result"]["custom"] is True
    assert "S3cret-Value" not in same.out + same.err
    weak = await terminal.inproc("rotate", "web-3-root", "--custom", stdin="short\n")
    assert weak.code == 2
    key_for_password = await terminal.inproc(
        "rotate", "web-3-root", "--custom", stdin="-----BEGIN PRIVATE KEY-----\nAAAA\n"
    )
    assert key_for_password.code == 2 and "give a password, not a key" in key_for_password.err
    without_custom = await terminal.inproc("rotate", "web-3-root", "--value-stdin")
    assert without_custom.code == 2 and "--custom" in without_custom.err
    assert terminal.sandbox.calls.total("PutSecretValue") == 1


async def test_rotation_policy_cases(terminal: Terminal) -> None:
    name = "web-4-ecs-user-key"
    ok(await terminal.inproc("rotation", name, "on", "12h"))
    show = ok(await terminal.inproc("show", name, "--json")).json["result"]
    assert show["automatic_rotation"] == "Enabled" and show["rotation_interval"] == "12h"
    off = ok(await terminal.inproc("rotation", name, "off", "--json")).json
    assert off["result"]["enabled"] is False and off["result_type"] == "RotationPolicyResult"
    wrong = await terminal.inproc("rotation", name, "off", "7d")
    assert wrong.code == 2 and "goes with `on` only" in wrong.err
    short = await terminal.inproc("rotation", name, "on", "1h", "--json")
    assert short.code == 2 and short.json["error"]["type"] == "InvalidInput"


async def test_deletion_confirmation(terminal: Terminal) -> None:
    name = "web-4-ecs-user-key"
    wrong = await terminal.inproc("delete", name, "--days", "7", stdin="web-4\n")
    assert wrong.code == 2 and "Not confirmed; nothing was done." in wrong.err
    closed = await terminal.inproc("delete", name, "--now")
    assert closed.code == 2 and "IMMEDIATELY? It cannot be restored." in closed.err
    assert terminal.sandbox.calls.total("DeleteSecret") == 0
    full = await terminal.inproc("delete", name, stdin=f"acs/ecs/{name}\n")
    assert "scheduled for deletion" in ok(full).out
    assert "Schedule web-4-ecs-user-key for deletion in 30 days?" in full.err
    table = ok(await terminal.inproc("pending")).out.splitlines()
    assert table[0].split() == [
        "ID",
        "NAME",
        "REGION",
        "DELETES",
        "AT",
        "LEFT",
        "SCHEDULED",
        "BY",
        "YOU",
        "MAY",
    ]
    assert name in table[1] and ME in table[1] and table[1].endswith("restore")
    rotate = await terminal.inproc("rotate", name)
    assert rotate.code == 6 and "scheduled for deletion" in rotate.err
    twice = await terminal.inproc("restore", name)
    ok(twice)
    again = await terminal.inproc("restore", name, "--json")
    assert again.code == 6 and again.json["outcome"] == "error"


async def test_approvals_listing_and_closed_requests(terminal: Terminal) -> None:
    held = await terminal.inproc("delete", "web-3-root", "--now", "--yes")
    assert held.code == 4 and "Nothing ran yet" in held.out
    approval_id = held.out.split("Approval id ")[1].split(".")[0]
    assert f"`ecs-secret approve {approval_id}`" in held.out
    listing = ok(await terminal.inproc("approvals")).out
    assert approval_id in listing and "DeleteSecret" in listing
    mine = ok(await terminal.inproc("approvals", "--json")).json["result"]["mine"]
    assert [(m["id"], m["status"], m["requester"]) for m in mine] == [(approval_id, "pending", ME)]
    ok(await terminal.inproc("deny", approval_id))
    late = await terminal.inproc("approve", approval_id, "--json")
    assert late.code == 6 and late.json["vote"] == "closed"
    missing = await terminal.inproc("approve", "no-such-approval")
    assert missing.code == 6, str(missing)


async def test_denied_dry_run_and_invalid(terminal: Terminal) -> None:
    delete = await terminal.inproc("delete", "win-app-1-admin", "--yes", "--json")
    assert delete.code == 3 and delete.json["error"]["type"] == "AccessDenied"
    entries = ok(await terminal.inproc("audit", "win-app-1-admin", "--json")).json["result"]
    assert {(e["decision"], e["outcome"]) for e in entries} == {("deny", "refused")}
    allowed = await terminal.inproc("rotate", "web-3-root", "--dry-run")
    assert allowed.code == 0 and "Nothing was done." in allowed.out
    denied = await terminal.inproc("rotate", "win-app-1-admin", "--dry-run", "--json")
    assert denied.code == 3 and denied.json["result"]["allowed"] is False
    failing = await terminal.inproc("rotate", "db-1-root", "--dry-run")
    assert failing.code == 6 and "failed" in failing.out
    bad_name = await terminal.inproc("show", "web 3")
    assert bad_name.code == 2
    bad_region = await terminal.inproc("list", "--region", "eu-nowhere-1")
    assert bad_region.code == 2 and "cn-hangzhou, cn-shanghai" in bad_region.err
    assert terminal.sandbox.calls.total("RotateSecret") == 0


async def test_throttled_cloud_exits_5(terminal: Terminal) -> None:
    terminal.sandbox.faults.add(action="DescribeSecret", kind="throttling")
    throttled = await terminal.inproc("show", "web-3-root", "--json")
    assert throttled.code == 5 and throttled.json["error"]["code"] == "Rejected.Throttling"


async def test_configuration_and_storage_problems_exit_7(terminal: Terminal) -> None:
    broken = terminal.cwd / "broken.toml"
    broken.write_text("[cloud]\nregion = 'cn-hangzhou'\n", encoding="utf-8")
    typo = await terminal.inproc("whoami", "--config", str(broken), "--json")
    assert typo.code == 7 and "[cloud.region]" in typo.json["error"]["message"]
    terminal.db.write_bytes(b"not a database at all" * 100)
    damaged = await terminal.inproc("whoami")
    assert damaged.code == 7 and "bot.db" in damaged.err


async def test_a_login_bound_to_nothing_may_do_nothing(terminal: Terminal) -> None:
    lonely = terminal.cwd / "lonely.toml"
    text = terminal.config.read_text(encoding="utf-8")
    lonely.write_text(text.split("[[access.bindings]]")[0], encoding="utf-8")
    who = ok(await terminal.inproc("whoami", "--config", str(lonely)))
    assert "No policy is bound to you" in who.out
    listing = await terminal.inproc("list", "--config", str(lonely))
    assert listing.code == 3, str(listing)


async def test_a_custom_value_says_what_kms_confirmed_and_what_it_cannot(
    terminal: Terminal,
) -> None:
    terminal.sandbox.custom_values = "accept"
    done = ok(await terminal.inproc("rotate", "web-3-root", "--custom", "--json", stdin=VALUE))
    assert done.json["rotation"] == "completed" and done.json["instance_confirmed"] is False
    again = ok(await terminal.inproc("rotate", "web-3-root", "--custom", stdin=VALUE))
    assert "KMS accepted the custom value for web-3-root (PutSecretValue" in again.out
    assert "KMS holds the custom value as the current version (ACSCurrent)." in again.out
    assert "can't be confirmed by KMS" in again.out and "logs in" in again.out
    assert "Rotation completed on" not in again.out and VALUE not in again.out


async def test_a_custom_value_asks_for_a_user_kms_does_not_record(terminal: Terminal) -> None:
    sandbox = terminal.sandbox
    sandbox.add_ecs_secret("cn-hangzhou", "console-root", instance_id=WEB4, custom_data={})
    shown = ok(await terminal.inproc("show", "console-root")).out
    assert "Password of an unknown user (KMS does not record it)" in shown
    piped = await terminal.inproc("rotate", "console-root", "--custom", stdin=VALUE)
    assert piped.code == 2 and "never decrypts" in piped.err and "--user" in piped.err
    typed = await terminal.inproc(
        "rotate", "console-root", "--custom", stdin="root\n", tty=True, typed=lambda _: VALUE
    )
    assert "OS user of the custom value: " in ok(typed).err
    given = ok(
        await terminal.inproc(
            "rotate", "console-root", "--custom", "--user", "root", "--no-wait", stdin=VALUE
        )
    )
    assert "KMS accepted the custom value for console-root" in given.out
    assert sandbox.calls.total("PutSecretValue") == 2
    without = await terminal.inproc("rotate", "console-root", "--user", "root")
    assert without.code == 2 and "--user goes with --custom only" in without.err


def test_a_rotation_not_confirmed_says_what_was_seen_and_where_to_look() -> None:
    outcome = RotationOutcome(
        rotation_id=1,
        state="timed_out",
        reason="KMS did not show the new version as ACSCurrent by the deadline: it stayed "
        "ACSPending. The rotation may still finish.",
        region="cn-hangzhou",
        secret_name="acs/ecs/web-3-root",
        version_id="v2",
        instance_id=WEB3,
        instance_name="web-3",
        requested_by=ME,
        approved_by=(),
        message_channel="",
        message_ts="",
        reported_here=True,
        checks=("the instance's Cloud Assistant", "the KMS console"),
    )
    answer = rotation_answer(None, outcome)
    assert answer.code == ExitCode.CLOUD and answer.extra["rotation"] == "timed_out"
    assert answer.text.splitlines() == [
        f"Rotation not confirmed: {outcome.reason}",
        "Check the instance's Cloud Assistant; the KMS console. Its state now: "
        "`ecs-secret show web-3-root`",
    ]


async def test_show_gives_an_instances_elastic_ip(terminal: Terminal) -> None:
    terminal.sandbox.add_instance("cn-hangzhou", "i-eip1", name="eip-1", eip="47.96.10.20")
    terminal.sandbox.add_ecs_secret("cn-hangzhou", "eip-1-root", instance_id="i-eip1")
    show = ok(await terminal.inproc("show", "eip-1-root"))
    assert "public IP      47.96.10.20" in show.out
    assert "public IP      -" in ok(await terminal.inproc("show", "web-3-root")).out
