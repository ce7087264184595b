"""A convolution and the max-pool after it as one op, y = max_pool2d(conv2d(x, w, b), kernel) for a pool
whose windows tile the convolution's output (stride = kernel, no padding or dilation, floor mode).

``shenjing.compile`` puts it in place of the two ops (``shenjing.compiler.fusion.conv_pool``) where
``shenjing._ops.kernels.conv_pool.applies``; it is not a layer of its own. Its value and gradients are
those of ``Conv2d`` followed by ``MaxPool2d`` bit for bit; the kernel only keeps the convolution's
output in the row windows' layout in between (see there). First-order gradients only, as every compiled graph.
"""

from __future__ import annotations

from shenjing._ops.conv import ConvGeometry
from shenjing._ops.kernels import conv_pool
from shenjing._ops.kernels.conv import ROWS, RowWindows
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import _GradState
from shenjing.autograd.node import Op

__all__ = ["ConvMaxPool2d"]


class ConvMaxPool2d(Op):
    """y = max_pool2d(conv2d(x, w, b), pool_kernel): x (N, C, H, W), w (O, C, KH, KW) -> (N, O, PH, PW),
    the convolution computed by ``algorithm`` (one of the row-window algorithms)."""

    owns_gradients = True  # the kernel's gradients are new arrays

    def __init__(self, geometry: ConvGeometry, pool_kernel: tuple[int, int], algorithm: RowWindows = ROWS) -> None:
        self.geometry, self.pool_kernel, self.algorithm = geometry, tuple(pool_kernel), algorithm

    def name(self) -> str:
        return "ConvMaxPool2dBackward"

    def forward(self, x, w, b=None):
        needs = self.needs_input_grad
        y, patches, self.argmax = conv_pool.forward(self.algorithm, x, w, b, self.geometry, self.pool_kernel,
                                                    keep_patches=needs[1], keep_argmax=any(needs))
        self.save_for_backward(x, w, [patches])  # (in a list: saved as it is, not as a tensor)
        return y

    def backward_arrays(self, gy):
        needs = tuple(self.needs_input_grad) + (False,) * (3 - len(self.needs_input_grad))
        x, w, (patches,) = self.saved_arrays
        return conv_pool.gradients(self.algorithm, gy, x, w, self.geometry, self.pool_kernel, patches, self.argmax,
                                   needs)

    def backward(self, gy):
        if _GradState.enabled:
            raise RuntimeError("ConvMaxPool2d has first-order gradients only (it is what shenjing.compile "
                               "fuses; a graph that needs higher derivatives runs the two ops eagerly)")
        return tuple(None if g is None else Tensor._make(g) for g in self.backward_arrays(gy._data))
