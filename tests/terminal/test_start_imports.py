"""``ecs-secret`` loads only what a subcommand needs: no Alibaba Cloud SDK without a cloud call,
KMS's alone for ``list``, KMS's and ECS's for ``show``; never Slack's without a token. With
``--sandbox`` too: the emulated cloud loads the SDK's signature checks at its first call.

Each command runs in a fresh interpreter (as the console script runs it, against the
sandbox) that then writes down which of these packages it had imported.
"""

from __future__ import annotations

import asyncio
import json
import sys

import pytest
from cli_runner import sandbox_env
from terminal_harness import Terminal

SDK = ("alibabacloud_", "darabonba", "Tea")
HEAVY = (*SDK, "aiohttp", "requests", "slack_bolt", "slack_sdk")

RUN_AND_LIST = """
import json, sys
from ecs_secret_bot.cli import terminal_main
code = terminal_main(sys.argv[2:])
loaded = sorted({name.split(".")[0] for name in sys.modules if name.startswith(tuple(%r))})
with open(sys.argv[1], "w", encoding="utf-8") as out:
    json.dump({"code": code, "loaded": loaded}, out)
""" % (HEAVY,)


async def loaded_by(terminal: Terminal, *args: str, **env: str) -> list[str]:
    """Run ``ecs-secret args...`` in a fresh interpreter; return the heavy packages it loaded."""
    report = terminal.cwd / "loaded.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RUN_AND_LIST,
        str(report),
        *args,
        cwd=terminal.cwd,
        env=sandbox_env(ECS_SECRET_BOT_CONFIG=str(terminal.config), **env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, (out.decode(), err.decode())
    found = json.loads(report.read_text(encoding="utf-8"))
    assert found["code"] == 0, (out.decode(), err.decode())
    return list(found["loaded"])


@pytest.mark.parametrize("args", [("whoami",), ("pending",), ("approvals",), ("audit",)])
async def test_a_command_without_a_cloud_call_loads_no_sdk(
    terminal: Terminal, args: tuple[str, ...]
) -> None:
    assert await loaded_by(terminal, *args) == []


async def test_a_slack_token_loads_slack_only_when_a_slack_user_is_looked_up(
    terminal: Terminal,
) -> None:
    token = {"SLACK_BOT_TOKEN": "xoxb-not-used", "SLACK_API_URL": "http://127.0.0.1:9/api/"}
    assert await loaded_by(terminal, "whoami", **token) == []


async def test_the_sandbox_loads_no_sdk_before_its_first_call(terminal: Terminal) -> None:
    # It serves over aiohttp; it checks signatures with the SDK's utilities once called.
    assert await loaded_by(terminal, "--sandbox", "whoami") == ["aiohttp"]


async def test_list_loads_the_kms_client_only(terminal: Terminal) -> None:
    loaded = await loaded_by(terminal, "list")
    assert "alibabacloud_kms20160120" in loaded
    assert "alibabacloud_ecs20140526" not in loaded
    assert "alibabacloud_sts20150401" not in loaded
    assert not {"slack_bolt", "slack_sdk"} & set(loaded)


async def test_show_loads_kms_and_ecs_not_sts(terminal: Terminal) -> None:
    loaded = await loaded_by(terminal, "show", "web-3-root")
    assert {"alibabacloud_kms20160120", "alibabacloud_ecs20140526"} <= set(loaded)
    assert "alibabacloud_sts20150401" not in loaded
    assert not {"slack_bolt", "slack_sdk"} & set(loaded)
