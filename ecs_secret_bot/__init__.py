"""ecs-secret-bot: manage Alibaba Cloud KMS dynamic ECS secrets from Slack.

Layers (one way): ``bot`` (Slack) -> ``commands`` (rules, cloud gateway) -> ``storage`` (SQL).
``sandbox`` is an emulated KMS + ECS endpoint for trial runs and tests.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
