"""Stopping ``serve`` with work in flight: SIGTERM with 20 requests in progress, then a restart.

The bot runs as a process of its own (the real ``ecs-secret-bot serve``, HTTP mode, the
default 10 s grace period) against a sandbox in this process that outlives it, and a
loopback fake Slack. Ten rotation modals are opened (one secret each); then every cloud
call is made to take 2 s (the sandbox's latency fault) and twenty requests go in at once:
the ten modals are submitted (five cloud calls each: two DescribeSecret, the pre-flight's
two ECS calls, RotateSecret) and ten ``/ecs-secret rotation <name> on 14d`` are typed
(three calls each, after the ack, four at a time). SIGTERM follows while all twenty are in
flight. The process must exit within the grace period, and each request must be either
answered before the exit (the rotation triggered, the policy changed: said in Slack) or
resumed after the restart (the next start follows each rotation, which takes the instance
6 s, and edits its message to say how it ended).

Prints ``exit_s`` (SIGTERM to exit) and ``requests_lost`` (targets: exit_s below the grace
period, 0 lost); the last line is one JSON object, whose ``ratio`` is exit_s / grace.

Run from the repository root: ``python bench/stop.py``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakes import FakeSlackAPI, RecordedCall, input_state  # noqa: E402
from fakes import workspace as ws  # noqa: E402
from fakes.bot import SEC, SRE, bot_policies  # noqa: E402
from fakes.serve_process import ServeProcess, serve_config  # noqa: E402

from ecs_secret_bot.bot.ids import Action, Block, Callback  # noqa: E402
from ecs_secret_bot.sandbox import Sandbox  # noqa: E402

LATENCY = 2.0
GRACE = 10.0
IN_FLIGHT_FOR = 2.5
"""Seconds between sending the twenty requests and SIGTERM: all are still in progress."""
ROTATIONS = [f"bench-r{index:02d}-root" for index in range(10)]
POLICIES = [f"bench-p{index:02d}-root" for index in range(10)]
INSTANCES = ("i-bp1sbxweb3000000001", "i-bp1sbxweb4000000002")


def is_rotate_modal(call: RecordedCall) -> bool:
    view = call.payload.get("view", {})
    return isinstance(view, dict) and view.get("callback_id") == Callback.ROTATE


async def open_modals(bot: ServeProcess, slack: FakeSlackAPI) -> dict[str, dict[str, Any]]:
    """Type ``/ecs-secret rotate`` for each secret of ROTATIONS; return each one's modal."""
    await asyncio.gather(*(bot.command(f"rotate {n}", user=ws.ADMIN_ID) for n in ROTATIONS))
    calls = await slack.wait_for_calls(
        "views.update", count=len(ROTATIONS), predicate=is_rotate_modal, timeout=30
    )
    modals: dict[str, dict[str, Any]] = {}
    for call in calls:
        view = slack.view(str(call.payload["view_id"]))
        name = next(n for n in ROTATIONS if n in str(view.get("private_metadata", "")))
        modals[name] = view
    return modals


def said(slack: FakeSlackAPI, names: list[str], *words: str, since: int = 0) -> set[str]:
    """Return the secrets named by what the bot sent Slack (after call ``since``) with ``words``."""
    found: set[str] = set()
    for call in slack.calls[since:]:
        text = call.text()
        if all(word in text for word in words):
            found.update(name for name in names if name in text)
    return found


async def run_bench() -> dict[str, object]:
    sandbox = Sandbox(seed=True, rotation_delay=6.0)
    await sandbox.start(port=0, grace=1.0)
    for index, name in enumerate(ROTATIONS + POLICIES):
        sandbox.add_ecs_secret("cn-hangzhou", name, instance_id=INSTANCES[index % 2])
    try:
        async with FakeSlackAPI() as slack:
            slack.set_usergroup(SRE, [ws.ALICE_ID], handle="sre")
            slack.set_usergroup(SEC, [ws.ADMIN_ID], handle="security")
            with tempfile.TemporaryDirectory() as folder:
                config = serve_config(Path(folder), cloud_url=sandbox.url, policies=bot_policies())
                return await _measure(sandbox, slack, config)
    finally:
        await sandbox.stop()


async def _measure(sandbox: Sandbox, slack: FakeSlackAPI, config: Path) -> dict[str, object]:
    first = await ServeProcess.start(config, slack=slack, args=["--grace", str(GRACE)])
    try:
        modals = await open_modals(first, slack)
        sandbox.faults.add(kind="latency", latency=LATENCY)
        start = len(slack.calls)
        reason = {Block.REASON: {Action.REASON: input_state("bench")}}
        sent = [
            *(first.submit(modals[name], reason, user=ws.ADMIN_ID) for name in ROTATIONS),
            *(first.command(f"rotation {name} on 14d", user=ws.ADMIN_ID) for name in POLICIES),
        ]
        requests = [asyncio.ensure_future(one) for one in sent]
        await asyncio.sleep(IN_FLIGHT_FOR)
    except BaseException:
        await first.kill()
        raise
    stopped = await first.terminate(timeout=GRACE + 30)
    answers = await asyncio.gather(*requests, return_exceptions=True)
    acked = sum(1 for a in answers if not isinstance(a, BaseException) and a.status == 200)
    sandbox.faults.clear()
    triggered = said(slack, ROTATIONS, "Rotation triggered", since=start)
    ended_before = said(slack, ROTATIONS, "Rotation", "on i-", since=start) - triggered
    changed = said(slack, POLICIES, "Automatic rotation of", "is on", since=start)

    restart = len(slack.calls)
    second = await ServeProcess.start(config, slack=slack)
    try:
        deadline = time.monotonic() + 30
        resumed: set[str] = set()
        while time.monotonic() < deadline and not triggered <= resumed | ended_before:
            await asyncio.sleep(0.2)
            resumed = said(slack, ROTATIONS, "Rotation", since=restart)
    finally:
        await second.terminate()
    lost = [
        *(n for n in ROTATIONS if n not in triggered and n not in resumed),
        *(n for n in POLICIES if n not in changed),
    ]
    return {
        "exit_s": round(stopped.seconds, 2),
        "exit_code": stopped.returncode,
        "grace_s": GRACE,
        "requests_in_flight": len(ROTATIONS) + len(POLICIES),
        "acked": acked,
        "answered": len(triggered) + len(changed),
        "resumed_after_restart": len(resumed),
        "requests_lost": len(lost),
        "ratio": round(stopped.seconds / GRACE, 3),
    }


def main() -> None:
    result = asyncio.run(run_bench())
    print(
        f"{result['requests_in_flight']} requests in flight, every cloud call {LATENCY:g} s, "
        f"SIGTERM after {IN_FLIGHT_FOR:g} s, grace {GRACE:g} s"
    )
    print(f"exit_s          {result['exit_s']}  (exit code {result['exit_code']}; target < 10)")
    print(f"answered        {result['answered']} before the exit ({result['acked']} acked)")
    print(f"resumed         {result['resumed_after_restart']} rotations reported after restart")
    print(f"requests_lost   {result['requests_lost']}  (target 0)")
    print(json.dumps({"bench": "stop", **result}))


if __name__ == "__main__":
    main()
