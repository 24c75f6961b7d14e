"""The core: one module per operation, the policy engine, approvals and the cloud gateway.

Nothing here knows Slack: an actor is a principal id with group ids and a channel context.
"""

__all__: list[str] = []
