"""The README's sample output is what the sandbox really prints: the rotation of the walk-through
says it was triggered first, and waits the seconds the sandbox takes, not more."""

from __future__ import annotations

import re

from readme_blocks import blocks

from ecs_secret_bot.cli import _parser
from ecs_secret_bot.runtime import SANDBOX_ROTATION_DELAY


def test_the_rotation_sample_matches_the_sandbox() -> None:
    samples = [b for b in blocks() if b.lang == "text" and "Rotation completed" in b.text]
    assert len(samples) == 1
    lines = samples[0].text.splitlines()
    assert lines[0].startswith("Rotation of web-3-root with a KMS-generated value triggered")
    assert lines[-1].startswith("Rotation completed on ")
    (waiting,) = [line for line in lines if line.startswith("waiting for KMS")]
    seconds = int(re.findall(r"(\d+)s$", waiting)[0])
    # the walk-through's `ecs-secret-bot sandbox` and the in-process sandbox take as long
    sandbox = _parser().parse_args(["sandbox"])
    assert seconds == sandbox.rotation_delay == SANDBOX_ROTATION_DELAY
