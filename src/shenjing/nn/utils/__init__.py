"""Helpers for training with modules: gradient clipping, flattening parameters into one vector, the
course's regularisation penalties (L1, L2, elastic net), weight and spectral normalisation, parametrizations
(``parametrize``, ``parametrizations``) and ``stateless.functional_call``."""

from shenjing.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from shenjing.nn.utils.hooks import RemovableHandle
from shenjing.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters
from shenjing.nn.utils.regularization import elastic_net_penalty, l1_penalty, l2_penalty
from shenjing.nn.utils import rnn  # noqa: F401  (padded and packed sequences)
from shenjing.nn.utils.fusion import fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval, fuse_linear_bn_weights
from shenjing.nn.utils.weight_norm import remove_weight_norm, weight_norm
from shenjing.nn.utils.spectral_norm import remove_spectral_norm, spectral_norm
from shenjing.nn.utils._misc import (clip_grad_norm, convert_conv2d_weight_memory_format,
                                     convert_conv3d_weight_memory_format, skip_init)

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm", "RemovableHandle",
           "parameters_to_vector", "vector_to_parameters", "l1_penalty", "l2_penalty", "elastic_net_penalty", "rnn",
           "fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights", "weight_norm",
           "remove_weight_norm", "clip_grad_norm", "convert_conv2d_weight_memory_format",
           "convert_conv3d_weight_memory_format", "skip_init", "spectral_norm", "remove_spectral_norm", "parametrize",
           "parametrizations", "stateless"]


def __getattr__(name: str):  # parametrize and friends build on nn.Module, which imports this package first
    if name in ("parametrize", "parametrizations", "stateless"):
        import importlib

        return importlib.import_module(f"shenjing.nn.utils.{name}")
    raise AttributeError(f"module 'shenjing.nn.utils' has no attribute '{name}'")
