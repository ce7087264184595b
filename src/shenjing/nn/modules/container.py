"""container modules (filled in by the nn layers work)."""

__all__: list[str] = []
