"""The log lines of ``serve``: ``text`` (the default) or ``json``, one line per record.

Owns ``configure_logging`` and ``JsonFormatter``. A JSON line is one object with ``time``
(UTC, ISO 8601, milliseconds), ``level``, ``logger``, ``message``, the ``request_id`` of the
Slack request being served (``context``) when there is one, and ``exception`` (the
traceback, as one string) when the record has one. Written with the standard library's
``json``: five fields need no dependency. A text line carries the request id too, in
brackets. The loggers whose DEBUG output carries raw Slack payloads (a modal's state holds
a custom value as typed) never log below INFO, whatever the root level: this module never
adds a field taken from a payload. Never reads the environment (``cli`` passes the format).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TextIO

from ecs_secret_bot.telemetry.context import request_id

__all__ = ["LOG_FORMATS", "JsonFormatter", "TextFormatter", "configure_logging"]

LOG_FORMATS = ("text", "json")
PAYLOAD_LOGGERS = ("slack_bolt", "slack_sdk", "ecs_secret_bot.bolt", "aiohttp.access")
"""Loggers whose DEBUG output carries raw Slack payloads: never below INFO."""
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s:%(request)s %(message)s"


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        """Return ``record`` as a JSON object (no newline inside: tracebacks are escaped)."""
        line: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        bound = request_id()
        if bound:
            line["request_id"] = bound
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The classic line, with `` [request id]`` after the logger's name inside a request."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        """Return ``record`` as one text line (a traceback follows on lines of its own)."""
        bound = request_id()
        record.request = f" [{bound}]" if bound else ""
        return super().format(record)


def configure_logging(log_format: str = "text", *, stream: TextIO) -> None:
    """Send INFO and above to ``stream`` as ``log_format`` lines, payload loggers capped."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format {log_format!r} is not one of {', '.join(LOG_FORMATS)}")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])  # a no-op where one is set
    for name in PAYLOAD_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)
