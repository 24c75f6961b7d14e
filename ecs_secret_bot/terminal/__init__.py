"""``ecs-secret``: the terminal front end over the ``commands/`` core, beside ``bot/``.

The same subcommands as ``/ecs-secret``, the same operations, policies, approvals and
audit log, on the same database; the actor is ``local:user:<login>``. Modules: ``main``
(entry point, output), ``environment`` (variables, login), ``parser`` (the command line),
``operations`` (one function per subcommand), ``voting`` (approve, deny), ``answers``
(what they return), ``session`` (the core and the ``--sandbox`` switch), ``directory``
(who a principal is, from a terminal), ``prompts`` (values without echo, typed
confirmations), ``progress`` (waiting for a rotation), ``render`` (tables, JSON),
``report`` (the one place that words an error and picks its exit code), ``exit_codes``.
"""

from __future__ import annotations

# The entry point is ecs_secret_bot.terminal.main:main. Nothing is imported here, so that
# `python -m ecs_secret_bot.terminal.main` runs that module once, as __main__.
__all__: list[str] = []
