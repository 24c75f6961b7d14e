"""SDK calls run on their own loop thread, and the SDK's modules load on a worker thread, so
the bot's loop never stalls on them."""

from __future__ import annotations

import asyncio
import sys
import threading
import uuid
from pathlib import Path

import pytest

from ecs_secret_bot.cloud.sdk_loop import load_sdk, run_on_sdk_loop


async def test_a_call_runs_on_the_sdk_thread_and_returns_its_result() -> None:
    async def call() -> str:
        return threading.current_thread().name

    assert await run_on_sdk_loop(call) == "alibabacloud-sdk"


async def test_exceptions_come_back_as_they_are() -> None:
    async def call() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        await run_on_sdk_loop(call)


async def test_a_timeout_cancels_the_call_on_the_sdk_loop() -> None:
    cancelled = threading.Event()

    async def call() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(run_on_sdk_loop(call), timeout=0.1)
    assert await asyncio.to_thread(cancelled.wait, 2)


async def test_blocking_sdk_work_leaves_this_loop_free() -> None:
    # The SDK call blocks its thread until this loop, still free, lets it go; on one shared
    # loop it could never be let go.
    released = threading.Event()

    async def blocking() -> bool:
        return released.wait(5)  # stands for the SDK's blocking TLS set-up

    async def release() -> None:
        await asyncio.sleep(0)
        released.set()

    finished, _ = await asyncio.gather(run_on_sdk_loop(blocking), release())
    assert finished is True


async def test_sdk_modules_load_off_the_callers_thread(tmp_path: Path) -> None:
    # A module that says which thread imported it, and how often.
    name = f"sdk_loop_probe_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(
        "import threading\nimported_on = [threading.current_thread().name]\n", encoding="utf-8"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        await load_sdk(name)
        assert sys.modules[name].imported_on != [threading.current_thread().name]
        await load_sdk(name)  # already there: nothing to do
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)


async def test_a_module_that_fails_to_load_raises_its_error() -> None:
    with pytest.raises(ModuleNotFoundError):
        await load_sdk(f"no_such_module_{uuid.uuid4().hex}")
