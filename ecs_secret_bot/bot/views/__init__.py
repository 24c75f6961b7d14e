"""Pure Block Kit builders: dicts in, dicts out; no Slack calls, no core calls.

``blocks`` (shared pieces, escaping, Slack dates), ``forms`` (what modals are built of),
``modals``, ``messages``,
``approvals`` (the approval card), ``listings`` (read-only answers), ``home`` (App Home)
and ``limits`` (Slack's documented limits, checked in the tests).
"""

__all__: list[str] = []
