"""What the running bot tells its operators: Prometheus metrics and log lines.

Owns ``metrics`` (``Metrics``: a registry of the process's own, never prometheus_client's
global one, so several cores in one process do not collide; it implements the observer
protocols the other layers declare: ``bot.observe.RequestObserver``,
``cloud.retry.CallObserver`` and ``commands.ticks.DutyObserver``), ``logs`` (``text`` or
``json`` lines on stderr) and ``context`` (the request id a log line carries, bound per
Slack request). Imports nothing else of ours: the layers report through their own
protocols, and ``runtime`` hands them this implementation. Never decides anything, never
reads storage itself (the backlog gauges read what ``runtime`` gives them to call).
"""

__all__: list[str] = []
