"""Small runnable programs written with the tensor library alone (no layers yet)."""
