"""Neural-network building blocks. This release has the functional ops that the tensor library
needs (``shenjing.nn.functional``); layers and losses arrive in the next one."""

from shenjing.nn import functional  # noqa: F401
