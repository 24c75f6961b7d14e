"""A second process for duty tests: runs the duties on a shared database until killed.

Usage: python duty_worker.py CONFIG OWNER OUTPUT. Each reminder is appended to OUTPUT as
one line ``<owner> <secret> <label>``, flushed and synced, so a killed worker leaves
exactly what it sent.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ecs_secret_bot.commands.duties import DutyRunner  # noqa: E402
from ecs_secret_bot.commands.tracker import RotationOutcome, RotationTracker  # noqa: E402
from ecs_secret_bot.config import load_settings  # noqa: E402
from ecs_secret_bot.runtime import open_core  # noqa: E402
from fakes.cloud import fast_retry, sandbox_credential  # noqa: E402
from fakes.core import Directory  # noqa: E402

__all__ = ["FileNotifier", "main"]


class FileNotifier:
    def __init__(self, owner: str, output: Path) -> None:
        self.owner = owner
        self.output = output

    async def remind(self, row: object, *, label: str) -> None:
        line = f"{self.owner} {row.secret_name} {label}\n"  # type: ignore[attr-defined]
        with self.output.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    async def deletion_closed(self, row: object) -> None: ...
    async def deletion_discovered(self, row: object) -> None: ...
    async def approval_unannounced(self, row: object) -> None: ...
    async def approval_expired(self, row: object) -> None: ...
    async def approval_changed(self, row: object) -> None: ...
    async def approval_stale(self, row: object) -> None: ...
    async def rotation_finished(self, outcome: RotationOutcome) -> None: ...
    async def audit_anchor(self, anchor: object) -> None: ...


async def main(config: str, owner: str, output: str) -> None:
    settings = load_settings(Path(config))
    async with open_core(
        settings, directory=Directory(), credential=sandbox_credential(), retry=fast_retry()
    ) as core:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        notifier = FileNotifier(owner, Path(output))
        runner = DutyRunner(
            core,
            notifier,
            owner=owner,
            interval=timedelta(seconds=0.1),
            lease_ttl=timedelta(seconds=1),
            tracker=RotationTracker(core, notifier),
        )
        print("ready", flush=True)
        await runner.run(stop)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
