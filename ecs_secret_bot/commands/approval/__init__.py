"""Approvals: which requests wait for whom, the held requests, and their votes.

- ``rules`` and ``config``: approval rules, parsed from ``[approval]`` and applied;
- ``requests``: what an approval is about, frozen, and the outcomes the workflow hands back;
- ``workflow``: the held request, its votes, and the one execution it may lead to;
- ``checks``: who may vote, and whether an approved request may still run;
- ``votes``: approve or deny; the last approval runs exactly what was asked.

Never does: anything Slack- or terminal-specific, SQL (``storage.approvals`` does that).
"""

__all__: list[str] = []
