"""Helpers for training with modules: gradient clipping, flattening parameters into one vector, and
the course's regularisation penalties (L1, L2, elastic net)."""

from shenjing.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from shenjing.nn.utils.hooks import RemovableHandle
from shenjing.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters
from shenjing.nn.utils.regularization import elastic_net_penalty, l1_penalty, l2_penalty
from shenjing.nn.utils import rnn  # noqa: F401  (padded and packed sequences)

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm", "RemovableHandle",
           "parameters_to_vector", "vector_to_parameters", "l1_penalty", "l2_penalty", "elastic_net_penalty", "rnn"]
