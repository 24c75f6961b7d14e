"""``ecs-secret``: the terminal front end over the ``commands/`` core, beside ``bot/``.

The same subcommands as ``/ecs-secret``, the same operations, policies, approvals and
audit log, on the same database; the actor is ``local:user:<login>``. Modules: ``main``
(one command line run, output), ``environment`` (variables, login), ``parser`` (the
command line), ``operations`` (one function per subcommand), ``voting`` (approve, deny),
``answers`` (what they return), ``session`` (the configuration a run reads, the core and
the actor it runs with), ``prompts`` (values without echo, typed confirmations),
``progress`` (waiting for a rotation), ``render`` (tables, JSON), ``report`` (the one place
that words an error and picks its exit code), ``exit_codes``.

The program's entry point is ``ecs_secret_bot.cli:terminal_main``: it reads the
environment and hands ``main`` the session opener of ``runtime``, which composes the core
(this package imports neither).
"""

from __future__ import annotations

# Nothing is imported here, so that ``ecs-secret --help`` loads only what it needs.
__all__: list[str] = []
