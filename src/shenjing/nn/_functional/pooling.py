"""Functional pooling ops (filled in by the nn layers work)."""

__all__: list[str] = []
