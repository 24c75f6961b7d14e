"""Everything the bot keeps, in one SQLite file. The only place that writes SQL."""

__all__: list[str] = []
