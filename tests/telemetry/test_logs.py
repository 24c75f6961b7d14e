"""Log lines: JSON objects (or text) carrying the request id bound for the running request."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest

from ecs_secret_bot.telemetry.context import bind_request_id, request_id, reset_request_id
from ecs_secret_bot.telemetry.logs import JsonFormatter, TextFormatter, configure_logging


def record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("ecs_secret_bot.x", logging.INFO, __file__, 1, message, args, exc_info)


def test_a_json_line_is_one_object_with_time_level_logger_message() -> None:
    line = JsonFormatter().format(record("settled %d deletions", 2))
    parsed = json.loads(line)
    assert parsed["level"] == "INFO" and parsed["logger"] == "ecs_secret_bot.x"
    assert parsed["message"] == "settled 2 deletions"
    assert parsed["time"].endswith("+00:00") and "request_id" not in parsed


def test_a_traceback_stays_inside_its_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError as exc:
        line = JsonFormatter().format(record("failed", exc=exc))
    assert "\n" not in line
    assert "ValueError: boom" in json.loads(line)["exception"]


async def test_the_request_id_bound_reaches_the_lines_of_the_tasks_it_starts() -> None:
    token = bind_request_id("Ev0123")
    try:

        async def child() -> tuple[str, str, str]:
            await asyncio.sleep(0)
            formatted = JsonFormatter().format(record("inside"))
            return request_id(), formatted, TextFormatter().format(record("inside"))

        seen, line, text = await asyncio.create_task(child())
    finally:
        reset_request_id(token)
    assert seen == "Ev0123"
    assert json.loads(line)["request_id"] == "Ev0123"
    assert text.endswith("INFO ecs_secret_bot.x: [Ev0123] inside")
    assert request_id() == ""


def test_an_unknown_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="'text', 'json'|text, json"):
        configure_logging("xml", stream=io.StringIO())
