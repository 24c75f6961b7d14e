"""Asking the person at the terminal: secret values without echo, typed confirmations.

A secret value is read with ``getpass`` (no echo) when stdin is a terminal, or from stdin
when it is a pipe or a file; never from the command line, where ``ps`` and the shell
history would show it. Values are returned to the caller and never printed, logged or kept.
Prompts go to stderr, so stdout stays the command's answer.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ecs_secret_bot.errors import InvalidInput

__all__ = ["Prompter"]


@dataclass
class Prompter:
    """Reads from the terminal's stdin; the streams are injectable for tests."""

    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    read_hidden: Callable[[str], str] = getpass.getpass

    @property
    def interactive(self) -> bool:
        """Say whether stdin is a terminal a person types into."""
        return self.stdin.isatty()

    def secret_line(self, prompt: str, *, field_name: str, confirm: bool = True) -> str:
        """Return one line typed without echo (twice, to catch typos), or read from stdin."""
        if self.interactive:
            first = self.read_hidden(prompt)
            if confirm and self.read_hidden("Again, to confirm: ") != first:
                raise InvalidInput("The two entries differ; nothing was done.", field=field_name)
            value = first
        else:
            value = self.stdin.readline().rstrip("\r\n")
        if not value:
            raise InvalidInput(
                "No value was given; nothing was done.",
                field=field_name,
                next_step="Type it at the prompt, or pipe it on stdin (--value-stdin).",
            )
        return value

    def line(self, prompt: str, *, field_name: str) -> str:
        """Return one line typed with echo (a name, never a value), after ``prompt``."""
        print(prompt, end="", file=self.stderr)
        self.stderr.flush()
        value = self.stdin.readline().strip()
        if not value:
            raise InvalidInput("Nothing was typed; nothing was done.", field=field_name)
        return value

    def secret_text(self, *, field_name: str, source: Path | None, what: str) -> str:
        """Return a multi-line value (a PEM key) from a file or from piped stdin."""
        if source is not None:
            try:
                text = source.read_text(encoding="utf-8")
            except OSError as exc:
                raise InvalidInput(
                    f"Cannot read {source}: {exc.strerror}.", field=field_name
                ) from None
        elif self.interactive:
            raise InvalidInput(
                f"A {what} spans several lines and cannot be typed at a prompt.",
                field=field_name,
                next_step="Pipe it on stdin, or name its file with --private-key-file.",
            )
        else:
            text = self.stdin.read()
        if not text.strip():
            raise InvalidInput(f"The {what} is empty; nothing was done.", field=field_name)
        return text

    def confirm(self, question: str) -> bool:
        """Ask a yes/no question; say whether the answer was yes."""
        print(f"{question} [y/N] ", end="", file=self.stderr)
        self.stderr.flush()
        return self.stdin.readline().strip().lower() in ("y", "yes")

    def confirm_name(self, expected: str, *, what: str) -> bool:
        """Ask the person to type ``expected``; say whether they did."""
        print(f"{what}\nType the secret's name ({expected}) to confirm: ", end="", file=self.stderr)
        self.stderr.flush()
        answer = self.stdin.readline()
        if not answer:
            print("", file=self.stderr)
        return answer.strip() in (expected, f"acs/ecs/{expected}")
