"""More activation layers (``CELU``, ``SELU``, ``GLU``, the shrinkage layers, ``Hardsigmoid``,
``Hardswish``, ``Mish``, ``RReLU``, ``Softmin``, ``Softmax2d``): each holds its hyper-parameters and
calls the functional form in ``shenjing.nn._functional.activation_more``."""

from __future__ import annotations

from shenjing._ops.activation import softmax
from shenjing._tensor import Tensor
from shenjing.nn._functional import activation_more as F
from shenjing.nn.modules.module import Module

__all__ = ["CELU", "SELU", "GLU", "Hardshrink", "Softshrink", "Tanhshrink", "Hardsigmoid", "Hardswish", "Mish",
           "RReLU", "Softmin", "Softmax2d"]


class CELU(Module):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.CELU(alpha=2.0)
    CELU(alpha=2.0)
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.celu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class SELU(Module):
    """scale * (max(0, x) + min(0, alpha * (exp(x) - 1))), alpha = 1.6733, scale = 1.0507.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.SELU()(shenjing.tensor([0.0, 1.0]))
    tensor([0.0000, 1.0507])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.selu(input, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class GLU(Module):
    """a * sigmoid(b) for the two halves a, b of the input along ``dim``.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.GLU()(shenjing.randn(4, 6)).shape
    shenjing.Size([4, 3])
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Hardshrink(Module):
    """x where |x| > lambd, else 0.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.Hardshrink()
    Hardshrink(0.5)
    """

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        return F.hardshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Softshrink(Module):
    """x - lambd above lambd, x + lambd below -lambd, else 0.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.Softshrink(1.0)(shenjing.tensor([3.0, 0.5]))
    tensor([2., 0.])
    """

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        return F.softshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return str(self.lambd)


class Tanhshrink(Module):
    """x - tanh(x).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.Tanhshrink()(shenjing.tensor([0.0]))
    tensor([0.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.tanhshrink(input)


class Hardsigmoid(Module):
    """relu6(x + 3) / 6.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.Hardsigmoid()(shenjing.tensor([0.0, 5.0]))
    tensor([0.5000, 1.0000])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.hardsigmoid(input, self.inplace)


class Hardswish(Module):
    """x * relu6(x + 3) / 6.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.Hardswish()(shenjing.tensor([1.0]))
    tensor([0.6667])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.hardswish(input, self.inplace)


class Mish(Module):
    """x * tanh(softplus(x)).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.Mish()(shenjing.tensor([0.0]))
    tensor([0.])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.mish(input, self.inplace)


class RReLU(Module):
    """Randomised leaky ReLU: negative inputs times a ~ U(lower, upper) per element in training, times
    (lower + upper) / 2 in evaluation.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.RReLU(0.1, 0.3).eval()(shenjing.tensor([-1.0, 1.0]))
    tensor([-0.2000,  1.0000])
    """

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False) -> None:
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace else "")


class Softmin(Module):
    """softmax(-x) along ``dim``.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.Softmin(dim=0)(shenjing.tensor([0.0, 0.0]))
    tensor([0.5000, 0.5000])
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.softmin(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax2d(Module):
    """Softmax over the channels at each position: (N, C, H, W) or (C, H, W), along dim -3.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.Softmax2d()(shenjing.zeros(1, 2, 1, 1)).flatten()
    tensor([0.5000, 0.5000])
    """

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D instead")
        return softmax(input, -3)
