"""Waiting for a rotation to finish, with the seconds counted on stderr.

``follow_with_progress`` calls the core's ``follow_rotation`` (the same follow-up the Slack
app runs) and, while it waits, says so: one line rewritten every second on a terminal, a
line every ``every`` seconds in a log. Never prints anything but names and times.
"""

from __future__ import annotations

import asyncio
import time
from typing import TextIO

from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.operations.rotate import FollowUp, follow_rotation

__all__ = ["follow_with_progress"]


async def follow_with_progress(
    rotation_id: int, *, core: Core, out: TextIO, label: str, every: float = 10.0
) -> FollowUp:
    """Follow the rotation to its end, telling ``out`` how long it has been waiting."""
    task = asyncio.ensure_future(follow_rotation(rotation_id, core=core))
    started = time.monotonic()
    live = out.isatty()
    message = f"waiting for KMS to report the new version of {label} as current..."
    if not live:
        print(message, file=out, flush=True)
    last_line = started
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=1.0)
            if done:
                break
            elapsed = time.monotonic() - started
            if live:
                print(f"\r{message} {elapsed:.0f}s", end="", file=out, flush=True)
            elif time.monotonic() - last_line >= every:
                print(f"  still waiting... {elapsed:.0f}s", file=out, flush=True)
                last_line = time.monotonic()
    finally:
        if not task.done():
            task.cancel()
        if live:
            print("\r\033[K", end="", file=out, flush=True)
    return task.result()
