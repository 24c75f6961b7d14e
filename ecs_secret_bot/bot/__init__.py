"""The Slack layer: bolt wiring, parsing, Block Kit. No SQL, no cloud calls, no policy decisions."""

__all__: list[str] = []
