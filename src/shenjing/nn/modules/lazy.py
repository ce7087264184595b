"""Lazy layers: ``LazyLinear``, ``LazyConv1d/2d/3d``, ``LazyConvTranspose1d/2d/3d``, ``LazyBatchNorm1d/2d/3d``
and ``LazyInstanceNorm1d/2d/3d``. Each is its eager layer with the input size (in_features, in_channels or
num_features) left open: the first forward reads it from the input, creates the parameters as the eager
layer would (the same random draws, in the same order) and turns the module into that eager layer
(``type(layer)`` becomes ``Linear``, ``Conv2d``, ...), as PyTorch does. Until then the parameters are
``UninitializedParameter`` placeholders, and constructing a lazy layer draws no random numbers.
"""

from __future__ import annotations

from typing import Any

from shenjing._creation import empty
from shenjing._random import get_rng_state, set_rng_state
from shenjing._tensor import Tensor
from shenjing.nn.modules.conv import Conv1d, Conv2d
from shenjing.nn.modules.conv3d import Conv3d, ConvTranspose3d
from shenjing.nn.modules.conv_transpose import ConvTranspose1d, ConvTranspose2d
from shenjing.nn.modules.instancenorm import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from shenjing.nn.modules.linear import Linear
from shenjing.nn.modules.module import Module
from shenjing.nn.modules.normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d
from shenjing.nn.parameter import Parameter

__all__ = ["UninitializedParameter", "LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d",
           "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d",
           "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d"]

_REGISTRIES = ("_modules", "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_forward_hooks",
               "_forward_hooks_with_kwargs")  # the lazy module's own, kept when it turns into the eager layer


class UninitializedParameter(Parameter):
    """A parameter whose shape is not known yet (an empty placeholder of the right dtype)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<UninitializedParameter>"


def _placeholder(tensor: Tensor | None) -> Tensor | None:
    if tensor is None or not tensor.is_floating_point():
        return tensor  # (num_batches_tracked stays a counter)
    return UninitializedParameter(empty(0, dtype=tensor.dtype), tensor.requires_grad)


class _LazyModule(Module):
    """The machinery shared by the lazy layers: ``_eager`` is the layer to become, ``_open`` the name of the
    attribute read from the first input, ``_template`` the value it takes in the placeholder layer."""

    _eager: type = Module
    _open = ""
    _template = 1

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        state = get_rng_state()
        template = self._eager(self._template_size(args, kwargs), *args, **kwargs)
        set_rng_state(state)  # (the template's random initialisation is not kept: nothing is drawn)
        Module.__init__(self)
        for name, value in template.__dict__.items():
            if name in ("_parameters", "_buffers"):
                value = type(value)((key, _placeholder(tensor)) for key, tensor in value.items())
            if name not in _REGISTRIES and name != "training":
                object.__setattr__(self, name, value)
        object.__setattr__(self, self._open, 0)
        object.__setattr__(self, "_lazy_arguments", (args, kwargs))

    def _template_size(self, args: tuple, kwargs: dict) -> int:
        return self._template

    def has_uninitialized_params(self) -> bool:
        """Whether the parameters still wait for the first input."""
        return any(isinstance(p, UninitializedParameter) for p in list(self._parameters.values())
                   + list(self._buffers.values()))

    def _size_of(self, input: Tensor) -> int:
        raise NotImplementedError

    def initialize_parameters(self, input: Tensor) -> None:
        """Create the parameters for ``input``'s size and turn into the eager layer."""
        args, kwargs = self._lazy_arguments
        placeholders = [p for p in list(self._parameters.values()) + list(self._buffers.values())
                        if isinstance(p, Tensor) and p.is_floating_point()]
        if placeholders:
            kwargs = {**kwargs, "dtype": placeholders[0].dtype}
        layer = self._eager(self._size_of(input), *args, **kwargs)
        for name, value in layer.__dict__.items():
            if name not in _REGISTRIES and name != "training":
                object.__setattr__(self, name, value)
        del self.__dict__["_lazy_arguments"]
        object.__setattr__(self, "__class__", self._eager)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if not args or not isinstance(args[0], Tensor):
            raise TypeError(f"{type(self).__name__} expects a Tensor input to infer its size")
        self.initialize_parameters(args[0])
        return self.forward(*args, **kwargs)


class LazyLinear(_LazyModule, Linear):
    """``Linear`` whose in_features is read from the first input's last dim.

    >>> import shenjing
    >>> from shenjing import nn
    >>> layer = nn.LazyLinear(4)
    >>> layer
    LazyLinear(in_features=0, out_features=4, bias=True)
    >>> layer(shenjing.randn(2, 3)).shape, layer
    (shenjing.Size([2, 4]), Linear(in_features=3, out_features=4, bias=True))
    """

    _eager, _open = Linear, "in_features"

    def __init__(self, out_features: int, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__(out_features, bias=bias, dtype=dtype)

    def _size_of(self, input: Tensor) -> int:
        return input.shape[-1]


class _LazyConvNd(_LazyModule):
    _open = "in_channels"
    _spatial = 2

    def _template_size(self, args: tuple, kwargs: dict) -> int:
        return kwargs.get("groups", 1)

    def _size_of(self, input: Tensor) -> int:
        unbatched = self._spatial + 1
        if input.ndim not in (unbatched, unbatched + 1):
            raise RuntimeError(f"Expected {unbatched}D (unbatched) or {unbatched + 1}D (batched) input to "
                               f"{type(self).__name__}, but got input of size: {list(input.shape)}")
        return input.shape[1] if input.ndim == unbatched + 1 else input.shape[0]


def _lazy_conv(eager: type, spatial: int, transposed: bool) -> type:
    """The lazy form of a convolution layer (its arguments without in_channels, PyTorch's order)."""

    if transposed:
        def __init__(self, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
                     padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
            _LazyModule.__init__(self, out_channels, kernel_size, stride=stride, padding=padding,
                                 output_padding=output_padding, groups=groups, bias=bias, dilation=dilation,
                                 padding_mode=padding_mode, dtype=dtype)
    else:
        def __init__(self, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
                     groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device: Any = None,
                     dtype: Any = None) -> None:
            _LazyModule.__init__(self, out_channels, kernel_size, stride=stride, padding=padding, dilation=dilation,
                                 groups=groups, bias=bias, padding_mode=padding_mode, dtype=dtype)
    name = f"Lazy{eager.__name__}"
    doc = f"""``{eager.__name__}`` whose in_channels is read from the first input (dim 1, or dim 0 unbatched)."""
    return type(name, (_LazyConvNd, eager), {"__init__": __init__, "_eager": eager, "_spatial": spatial, "__doc__": doc,
                                        "__module__": __name__, "__qualname__": name})


LazyConv1d = _lazy_conv(Conv1d, 1, False)
LazyConv2d = _lazy_conv(Conv2d, 2, False)
LazyConv3d = _lazy_conv(Conv3d, 3, False)
LazyConvTranspose1d = _lazy_conv(ConvTranspose1d, 1, True)
LazyConvTranspose2d = _lazy_conv(ConvTranspose2d, 2, True)
LazyConvTranspose3d = _lazy_conv(ConvTranspose3d, 3, True)


class _LazyNorm(_LazyModule):
    _open = "num_features"

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__(eps=eps, momentum=momentum, affine=affine, track_running_stats=track_running_stats,
                         dtype=dtype)

    def _size_of(self, input: Tensor) -> int:
        return input.shape[1]


def _lazy_norm(eager: type) -> type:
    name = f"Lazy{eager.__name__}"
    doc = f"""``{eager.__name__}`` whose num_features is read from the first input's dim 1."""
    return type(name, (_LazyNorm, eager), {"_eager": eager, "__doc__": doc, "__module__": __name__,
                                           "__qualname__": name})


LazyBatchNorm1d = _lazy_norm(BatchNorm1d)
LazyBatchNorm2d = _lazy_norm(BatchNorm2d)
LazyBatchNorm3d = _lazy_norm(BatchNorm3d)
LazyInstanceNorm1d = _lazy_norm(InstanceNorm1d)
LazyInstanceNorm2d = _lazy_norm(InstanceNorm2d)
LazyInstanceNorm3d = _lazy_norm(InstanceNorm3d)
