"""Functional forms of neural-network ops (``import shenjing.nn.functional as F``)."""

from shenjing._ops.activation import log_softmax, one_hot, softmax  # noqa: F401
from shenjing._ops.elementwise import relu, sigmoid, tanh  # noqa: F401

__all__ = ["softmax", "log_softmax", "one_hot", "relu", "sigmoid", "tanh"]
