"""README.md cannot rot: its commands run, its configuration loads, its reference is complete.

Every ``sh`` block runs, in order, in one bash script in an empty folder, with the programs
of this installation on PATH (the sandbox block in the background, on a free port instead
of 9000); a few blocks say why they are not run. Every ``toml`` block goes through the real
configuration loader, and the configuration reference documents exactly the keys the loader
accepts (found by asking the loader itself, with an unknown key in each table).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from readme_blocks import README, Block, blocks, reference_keys, section_text

from ecs_secret_bot.config import load_settings, parse_settings
from ecs_secret_bot.errors import ConfigError

REPO = README.parent
BIN = Path(sys.executable).parent

NOT_RUN_ALLOWED = 4
"""How many blocks may be left out, at most: each needs a reason a reader accepts."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the background block exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port} after {timeout}s")


def clean_env(home: Path) -> dict[str, str]:
    """Return the environment of a newcomer's shell: this installation first on PATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ALIBABA_CLOUD_", "SLACK_", "ECS_SECRET_BOT_", "PYTEST_"))
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(home)  # no profile or credentials file of the machine running the tests
    env["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"  # not on an ECS instance
    return env


@pytest.fixture
def background(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            process.kill()
            process.wait()


def test_the_readme_commands_run(tmp_path: Path, background: list[subprocess.Popen[bytes]]) -> None:
    shell = [b for b in blocks() if b.lang == "sh" and b.marker != "not run"]
    assert len(shell) >= 8
    port = str(free_port())
    folder = tmp_path / "newcomer"
    folder.mkdir()
    env = clean_env(tmp_path)
    script = ["set -euo pipefail"]
    for block in shell:
        text = block.text.replace("9000", port)
        if block.marker == "run":
            assert block.note == "in the background", block
            process = subprocess.Popen(
                ["bash", "-c", text],
                cwd=folder,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            background.append(process)
            wait_for_port(int(port), process)
            continue
        script += [f"echo '::: README.md line {block.line}'", text]
    ran = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = f"exit {ran.returncode}\n--- stdout\n{ran.stdout}\n--- stderr\n{ran.stderr}"
    assert ran.returncode == 0, report
    out = ran.stdout
    assert "all checks passed" in out, report
    assert "Created acs/ecs/web-4-root in cn-hangzhou" in out, report
    assert "Rotation completed on i-bp1sbxweb3000000001" in out, report
    assert "web-4-root is scheduled for deletion on" in out, report
    assert "web-4-root is restored: its deletion is cancelled." in out, report
    assert "exit code 6" in out, report
    assert "Curr3nt-Passw0rd!" not in out + ran.stderr
    # The walk-through's `ecs-secret audit`: one line per request, each naming its secret.
    line = next(b.line for b in shell if b.text.strip() == "ecs-secret audit")
    audit = out.split(f"::: README.md line {line}\n")[1].split("::: README.md line")[0]
    assert "kms:RestoreSecret" in audit and "rotation completed" in audit, report
    assert "web-4-root" in audit and "acs:kms:" not in audit, report
    # The audit and values-at-rest sections: the chain verifies, also under a wrapped key.
    assert out.count("The audit log verifies:") == 2, report
    assert "Wrapped the data key in" in out, report
    assert '"format":"ecs-secret-bot/kms-wrapped-data-key/1"' in (
        folder / "ecs-secret-bot.db.key"
    ).read_text(encoding="utf-8")
    assert (folder / "rotation.json").read_text(encoding="utf-8").startswith('{"command": "rotate"')


def test_few_blocks_are_left_out_and_each_says_why() -> None:
    left_out = [b for b in blocks() if b.marker == "not run"]
    assert 0 < len(left_out) <= NOT_RUN_ALLOWED, [b.line for b in left_out]
    for block in left_out:
        assert block.lang == "sh" and len(block.note) >= 10, block
    langs = {b.lang for b in blocks()}
    assert langs <= {"sh", "toml", "text"}, langs  # a new kind of block needs a test here


def ci_block(heading: str) -> str:
    """Return the first fenced block under ``heading``, as .ci/run extracts it."""
    lines = section_text(heading).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("```"))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("```"))
    return "\n".join(lines[start + 1 : end])


def test_ci_runs_the_install_and_test_commands_of_the_readme() -> None:
    assert ci_block("## Install") == "pip install -e '.[dev]'"
    assert ci_block("## Test") == "pytest"


# --- configuration -------------------------------------------------------------------------

POLICY_JSON = (
    '{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "kms:DescribeSecret", '
    '"Resource": "*"}]}'
)


def load(data: Mapping[str, Any], tmp_path: Path) -> None:
    parse_settings(data, source=tmp_path / "ecs-secret-bot.toml", read_text=lambda _: POLICY_JSON)


@pytest.mark.parametrize(
    "block", [b for b in blocks() if b.lang == "toml"], ids=lambda b: f"line-{b.line}"
)
def test_every_toml_example_loads(block: Block, tmp_path: Path) -> None:
    load(tomllib.loads(block.text), tmp_path)


def test_the_example_configuration_file_loads() -> None:
    settings = load_settings(REPO / "ecs-secret-bot.example.toml")
    assert settings.cloud.regions == ("cn-hangzhou", "cn-shanghai")
    assert [rule.name for rule in settings.approval_rules.rules] == [
        "immediate-delete",
        "teammate-restore",
    ]


RULE = {"name": "r", "actions": ["kms:DeleteSecret"], "approvers": ["slack:user:U1"]}
STATEMENT = {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}
PROBES: dict[str, dict[str, Any]] = {
    "": {},
    "cloud": {"cloud": {}},
    "cloud.region_defaults.<region>": {"cloud": {"region_defaults": {"cn-hangzhou": {}}}},
    "storage": {"storage": {}},
    "rotation": {"rotation": {}},
    "sweep": {"sweep": {}},
    "reminders": {"reminders": {}},
    "duties": {"duties": {}},
    "access": {"access": {}},
    "access.bindings": {"access": {"bindings": [{}]}},
    "access.guardrails": {"access": {"guardrails": [{}]}},
    "access.policies.<Name>": {"access": {"policies": {"P": {}}}},
    "access.policies.<Name>.Statement": {
        "access": {"policies": {"P": {"Version": "1", "Statement": [{}]}}}
    },
    "approval": {"approval": {}},
    "approval.rules": {"approval": {"rules": [{}]}},
    "approval.rules.approver_sets": {
        "approval": {
            "rules": [
                {
                    "name": "r",
                    "actions": ["kms:DeleteSecret"],
                    "approver_sets": [{}],
                }
            ]
        }
    },
}
_WHERE = {
    "": (),
    "cloud": ("cloud",),
    "cloud.region_defaults.<region>": ("cloud", "region_defaults", "cn-hangzhou"),
    "storage": ("storage",),
    "rotation": ("rotation",),
    "sweep": ("sweep",),
    "reminders": ("reminders",),
    "duties": ("duties",),
    "access": ("access",),
    "access.bindings": ("access", "bindings", 0),
    "access.guardrails": ("access", "guardrails", 0),
    "access.policies.<Name>": ("access", "policies", "P"),
    "access.policies.<Name>.Statement": ("access", "policies", "P", "Statement", 0),
    "approval": ("approval",),
    "approval.rules": ("approval", "rules", 0),
    "approval.rules.approver_sets": ("approval", "rules", 0, "approver_sets", 0),
}
_LISTS = (
    "allowed here are:",
    "the keys allowed are",
    "a statement has",
    "a policy document has",
    "use ",
)


def accepted_keys(section: str, tmp_path: Path) -> set[str]:
    """Ask the loader which keys the table accepts: give it an unknown one and read its answer."""
    document = PROBES[section]
    target: Any = document
    for step in _WHERE[section]:
        target = target[step]
    target["zz_unknown"] = 1
    with pytest.raises(ConfigError) as caught:
        load(document, tmp_path)
    message = str(caught.value)
    assert "zz_unknown" in message, message
    tail = next((message.rsplit(cue, 1)[1] for cue in _LISTS if cue in message), "")
    assert tail, message
    words = set(tail.replace(",", " ").replace(".", " ").split()) - {"and", "or"}
    return {w for w in words if w.isidentifier() and w != "zz_unknown"}


def test_the_reference_documents_exactly_what_the_loader_accepts(tmp_path: Path) -> None:
    documented = reference_keys()
    tables = {name for name in PROBES if name}
    assert set(documented) == tables, "one ### `[table]` section per table of the loader"
    top = accepted_keys("", tmp_path)
    top_tables = {"cloud", "storage", "rotation", "sweep", "reminders", "duties"}
    assert top == top_tables | {"access", "approval"}
    for section in sorted(tables):
        accepted = accepted_keys(section, tmp_path)
        if section == "access.policies.<Name>":
            accepted.add("file")  # the other form of a policy: {file = "x.json"} alone
        assert documented[section] == accepted, section


def test_every_documented_key_appears_in_an_example_that_loads() -> None:
    examples = [tomllib.loads(b.text) for b in blocks() if b.lang == "toml"]
    examples.append(tomllib.loads((REPO / "ecs-secret-bot.example.toml").read_text()))
    for section, keys in reference_keys().items():
        used: set[str] = set()
        for example in examples:
            for table in _tables_at(example, section.split(".")):
                used |= set(table)
        assert keys <= used, f"[{section}]: no example shows {sorted(keys - used)}"


def _tables_at(data: Any, path: list[str]) -> Iterator[Mapping[str, Any]]:
    if not path:
        if isinstance(data, Mapping):
            yield data
        elif isinstance(data, list):
            for item in data:
                yield from _tables_at(item, [])
        return
    head, rest = path[0], path[1:]
    if isinstance(data, list):
        for item in data:
            yield from _tables_at(item, path)
    elif isinstance(data, Mapping):
        if head.startswith("<"):
            for value in data.values():
                yield from _tables_at(value, rest)
        elif head in data:
            yield from _tables_at(data[head], rest)
