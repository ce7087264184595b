"""Optimisers with PyTorch's names, defaults and update rules: SGD, Adam, AdamW, RMSprop, Adagrad,
Adadelta, Adamax, NAdam, RAdam, Rprop, ASGD, LBFGS, ...; learning-rate schedules in
``shenjing.optim.lr_scheduler``, weight averaging in ``shenjing.optim.swa_utils``."""

from shenjing.optim.adafactor import Adafactor
from shenjing.optim.adam import Adam, AdamW
from shenjing.optim.adamax import Adamax
from shenjing.optim.adaptive import Adadelta, Adagrad, RMSprop
from shenjing.optim.asgd import ASGD
from shenjing.optim.lbfgs import LBFGS
from shenjing.optim.muon import Muon
from shenjing.optim.nadam import NAdam
from shenjing.optim.optimizer import Optimizer
from shenjing.optim.radam import RAdam
from shenjing.optim.rprop import Rprop
from shenjing.optim.sgd import SGD
from shenjing.optim.sparse_adam import SparseAdam
from shenjing.optim.swap_in import swap_in_optimizer_params_and_state
from shenjing.optim import lr_scheduler, swa_utils  # noqa: E402

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam",
           "Rprop", "ASGD", "LBFGS", "Adafactor", "Muon", "SparseAdam",
           "swap_in_optimizer_params_and_state", "lr_scheduler", "swa_utils"]
