"""Optimisers with PyTorch's names, defaults and update rules: SGD, Adam, AdamW, RMSprop, Adagrad,
Adadelta; learning-rate schedules in ``shenjing.optim.lr_scheduler``."""

from shenjing.optim.adam import Adam, AdamW
from shenjing.optim.adaptive import Adadelta, Adagrad, RMSprop
from shenjing.optim.optimizer import Optimizer
from shenjing.optim.sgd import SGD
from shenjing.optim import lr_scheduler  # noqa: E402

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "lr_scheduler"]
