"""Waiting for a rotation to finish, with the seconds counted on stderr.

Owns ``ProgressLines``, the terminal's ``RotationNotifier``: while the core's rotation
tracker (the same follow-up the Slack app runs) follows a rotation, it says so, one line
rewritten every second on a terminal or a line every ``every`` seconds in a log, and the
tracker's report of the end closes that line. ``follow_with_progress`` gives one command
its tracker and waits. Never prints anything but names and times.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TextIO

from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.tracker import RotationOutcome, RotationTracker

__all__ = ["ProgressLines", "follow_with_progress"]


class ProgressLines:
    """How long a rotation has been followed, on ``out``; closed when the tracker reports."""

    def __init__(self, out: TextIO, *, every: float = 10.0) -> None:
        self.out = out
        self.every = every
        self.live = out.isatty()
        self._line_open = False

    async def rotation_finished(self, outcome: RotationOutcome) -> None:
        """Close the waiting line: the answer on stdout says how the rotation ended."""
        del outcome
        self._close()

    async def show(self, end: Awaitable[RotationOutcome], *, label: str) -> RotationOutcome:
        """Await ``end``, telling ``out`` how long it has been waiting for ``label``."""
        task = asyncio.ensure_future(end)
        started = time.monotonic()
        message = f"waiting for KMS to report the new version of {label} as current..."
        if self.live:
            self._line_open = True
        else:
            print(message, file=self.out, flush=True)
        last_line = started
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=1.0)
                if done:
                    break
                elapsed = time.monotonic() - started
                if self.live and self._line_open:
                    print(f"\r{message} {elapsed:.0f}s", end="", file=self.out, flush=True)
                elif not self.live and time.monotonic() - last_line >= self.every:
                    print(f"  still waiting... {elapsed:.0f}s", file=self.out, flush=True)
                    last_line = time.monotonic()
        finally:
            if not task.done():
                task.cancel()
            self._close()  # also when the end was reported elsewhere, or the wait stopped
        return task.result()

    def _close(self) -> None:
        if self._line_open:
            print("\r\033[K", end="", file=self.out, flush=True)
            self._line_open = False


async def follow_with_progress(
    rotation_id: int, *, core: Core, out: TextIO, label: str, every: float = 10.0
) -> RotationOutcome:
    """Follow the rotation to its end with this command's tracker, its progress on ``out``."""
    lines = ProgressLines(out, every=every)
    tracker = RotationTracker(core, lines)
    try:
        return await lines.show(tracker.outcome(rotation_id), label=label)
    finally:
        await tracker.drain(0)  # a wait that stopped (Ctrl-C) stops its follow-up too
