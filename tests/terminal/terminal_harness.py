"""The terminal tests' harness: a configuration for a sandbox, and ``ecs-secret`` run as a
subprocess or in this process. (Not in conftest.py: test modules import from here.)"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from cli_runner import CliResult, run_cli, sandbox_env
from fakes.cloud import endpoints_toml, sandbox_credential
from fakes.policies import ADMIN_ACCESS, access_toml

from ecs_secret_bot.runtime import open_terminal
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.terminal.environment import Environment, login_name
from ecs_secret_bot.terminal.main import run
from ecs_secret_bot.terminal.parser import build_parser
from ecs_secret_bot.terminal.prompts import Prompter

__all__ = ["LOGIN", "POLICIES", "Terminal", "config_text"]

LOGIN = login_name()

POLICIES = access_toml(
    admins=[f"local:user:{LOGIN}", "slack:user:U01ADMIN", "slack:usergroup:SSEC"],
    admin_policies=[ADMIN_ACCESS, "NoWindows"],
    channel="C0SECOPS",
    delete_approvers=["slack:usergroup:SSEC", f"local:user:{LOGIN}"],
    more="""
[access.policies.NoWindows]
Version = "1"
[[access.policies.NoWindows.Statement]]
Effect = "Deny"
Action = ["kms:RotateSecret", "kms:PutSecretValue", "kms:DeleteSecret"]
Resource = ["acs:kms:*:*:secret/acs/ecs/win-*"]
""",
)


def config_text(sandbox: Sandbox, *, policies: str = POLICIES, db: str = "bot.db") -> str:
    """Return a configuration aimed at ``sandbox``, with the test's policies."""
    return f"""
[cloud]
default_region = "cn-hangzhou"
regions = ["cn-hangzhou", "cn-shanghai"]
account_id = "1234567890123456"
{endpoints_toml(sandbox)}

[storage]
path = "{db}"

[rotation]
follow_up_timeout = "30s"
{policies}
"""


@dataclass
class Terminal:
    """``ecs-secret`` in a folder with a configuration, against a running sandbox."""

    sandbox: Sandbox
    cwd: Path
    config: Path

    @property
    def db(self) -> Path:
        return self.cwd / "bot.db"

    async def __call__(self, *args: str, stdin: str | None = None, **env: str) -> CliResult:
        """Run ``ecs-secret args...`` as a subprocess."""
        return await run_cli(
            *args,
            cwd=self.cwd,
            env=sandbox_env(ECS_SECRET_BOT_CONFIG=str(self.config), **env),
            stdin=stdin,
        )

    async def inproc(
        self,
        *args: str,
        stdin: str = "",
        tty: bool = False,
        typed: Callable[[str], str] | None = None,
    ) -> CliResult:
        """Run the same command line in this process (fast), with the sandbox's AccessKey.

        ``tty`` makes stdin look like a terminal; ``typed`` answers the no-echo prompts.
        """
        parsed = build_parser().parse_args(list(args))
        out, err = io.StringIO(), io.StringIO()
        prompter = Prompter(
            stdin=_Stdin(stdin, tty=tty), stderr=err, read_hidden=typed or _no_prompt
        )
        env = Environment(login=LOGIN, cwd=self.cwd, config_path=self.config)
        opener = partial(open_terminal, credential=sandbox_credential())
        code = await run(parsed, env, open_session=opener, prompter=prompter, out=out, err=err)
        return CliResult(code, out.getvalue(), err.getvalue())


class _Stdin(io.StringIO):
    def __init__(self, text: str, *, tty: bool) -> None:
        super().__init__(text)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def _no_prompt(prompt: str) -> str:
    raise AssertionError(f"unexpected prompt {prompt!r}")
