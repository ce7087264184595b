"""Utilities shaped like ``torch.utils``: ``shenjing.utils.data`` holds datasets, samplers and the DataLoader.

>>> from shenjing.utils.data import DataLoader, TensorDataset
"""

from shenjing.utils import data  # noqa: F401

__all__ = ["data"]
