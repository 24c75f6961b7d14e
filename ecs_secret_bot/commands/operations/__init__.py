"""The mutating operations, one module each, every one through ``commands.pipeline``.

- ``create``: a dynamic ECS secret hosting an existing credential;
- ``rotate``: now, with a generated or a custom value, followed by ``commands.tracker``;
- ``rotation_policy``: automatic rotation on (with an interval) or off;
- ``delete``: scheduled (7-30 days) or immediate; ``restore``: before the date passes.

Never does: anything Slack- or terminal-specific, SQL, SDK calls (the gateway does).
"""

__all__: list[str] = []
