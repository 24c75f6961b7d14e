"""An emulated KMS + ECS endpoint speaking the real wire protocol, for trial runs and tests."""

__all__: list[str] = []
