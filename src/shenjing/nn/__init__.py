"""Neural-network building blocks with PyTorch's names: ``Module``, ``Parameter``, layers, losses,
``functional`` (``F``), ``init`` and ``utils``."""

from shenjing.nn.parameter import Parameter  # noqa: F401
from shenjing.nn.modules import *  # noqa: F401,F403
from shenjing.nn import functional, init, utils  # noqa: F401,E402
from shenjing.nn import parallel  # noqa: F401,E402  (DistributedDataParallel; imports no MPI)
