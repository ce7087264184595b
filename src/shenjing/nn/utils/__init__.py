"""nn.utils (filled in by the nn layers work)."""
