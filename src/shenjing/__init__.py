"""shenjing (神经): a deep-learning library written from first principles on NumPy, with PyTorch's API.

>>> import shenjing as torch   # PyTorch code runs after changing the import lines
>>> x = torch.tensor([1.0, 2.0], requires_grad=True)
>>> (x ** 2).sum().backward()
>>> x.grad
tensor([2., 4.])
"""

from __future__ import annotations

__version__ = "0.1.0"

from shenjing._tensor import Size, Tensor  # noqa: E402  (Tensor first: everything below builds on it)
from shenjing import _ops  # noqa: E402,F401
from shenjing._dtype import (  # noqa: E402
    bool_ as bool, dtype, float16, float32, float64, get_default_dtype, int8, int16, int32, int64,
    set_default_dtype, uint8, result_type)
from shenjing._device import device  # noqa: E402
from shenjing._random import (  # noqa: E402
    Generator, default_generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state)
from shenjing._creation import *  # noqa: E402,F401,F403
from shenjing._ops.elementwise import *  # noqa: E402,F401,F403
from shenjing._ops.elementwise import abs, pow, round  # noqa: E402,F401
from shenjing._ops.compare import *  # noqa: E402,F401,F403
from shenjing._ops.shape import *  # noqa: E402,F401,F403
from shenjing._ops.index import (  # noqa: E402,F401
    gather, index_add, index_select, masked_fill, masked_select, narrow, nonzero, scatter, scatter_add, select,
    take_along_dim)
from shenjing._ops.reduce import *  # noqa: E402,F401,F403
from shenjing._ops.reduce import all, any, max, min, sum  # noqa: E402,F401
from shenjing._ops.linalg import *  # noqa: E402,F401,F403
from shenjing._ops.matrix import *  # noqa: E402,F401,F403
from shenjing._ops.decomposition import *  # noqa: E402,F401,F403
from shenjing._ops.arrange import *  # noqa: E402,F401,F403
from shenjing._ops.combine import *  # noqa: E402,F401,F403
from shenjing._ops.activation import log_softmax, softmax  # noqa: E402,F401
from shenjing._ops.sort import argsort, sort, topk  # noqa: E402,F401
from shenjing._ops.special import *  # noqa: E402,F401,F403
from shenjing._ops.gamma import *  # noqa: E402,F401,F403
from shenjing._ops.binary import *  # noqa: E402,F401,F403  (after linalg: its n-d ``inner`` replaces dot's alias)
from shenjing._ops.statistics import *  # noqa: E402,F401,F403
from shenjing._ops.scan import *  # noqa: E402,F401,F403
from shenjing._ops.inplace import *  # noqa: E402,F401,F403
from shenjing.autograd import (  # noqa: E402,F401
    enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled)
from shenjing import accelerator, autograd, cuda, linalg, nn, optim, testing, utils  # noqa: E402,F401
from shenjing import distributed  # noqa: E402,F401  (torch.distributed over MPI; mpi4py is imported only on init)
from shenjing import onnx  # noqa: E402,F401  (torch.onnx: export; needs the optional onnx package only when called)
from shenjing._typeinfo import finfo, iinfo  # noqa: E402,F401
from shenjing._format import get_printoptions, set_printoptions  # noqa: E402,F401
from shenjing._legacy import (  # noqa: E402,F401
    BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor, IntTensor, LongTensor, ShortTensor)
from shenjing.serialization import load, save  # noqa: E402,F401
from shenjing import compiler  # noqa: E402,F401
from shenjing.compiler import compile  # noqa: E402,F401,A001  (torch.compile)
from shenjing import func  # noqa: E402,F401  (torch.func.functional_call)

half, float, double = float16, float32, float64  # noqa: A001  (PyTorch's aliases)
short, int, long = int16, int32, int64  # noqa: A001


def is_tensor(obj: object) -> bool:
    """True if ``obj`` is a shenjing Tensor."""
    return isinstance(obj, Tensor)


def is_floating_point(input: Tensor) -> bool:
    return input.is_floating_point()


def numel(input: Tensor) -> int:
    return input.numel()


def sigmoid_(input: Tensor) -> Tensor:
    return input.sigmoid_()


def relu_(input: Tensor) -> Tensor:
    return input.relu_()


# -- breadth of PyTorch's top level (issue 18): new ops, nn ops in ATen's form, settings ---------------
from shenjing._ops.scatter_more import *  # noqa: E402,F401,F403
from shenjing._ops.strided import as_strided, empty_permuted, empty_strided  # noqa: E402,F401  (unfold: a method only)
from shenjing._ops.products import *  # noqa: E402,F401,F403
from shenjing._ops.queries import *  # noqa: E402,F401,F403
from shenjing._creation_more import *  # noqa: E402,F401,F403
from shenjing._toplevel_nn import *  # noqa: E402,F401,F403
from shenjing._runtime import *  # noqa: E402,F401,F403
from shenjing._toplevel_tensor import *  # noqa: E402,F401,F403
from shenjing._tensor_breadth import layout, strided  # noqa: E402,F401


def _accept_out() -> None:
    """Give the namespace functions PyTorch's ``out=`` argument (``shenjing._out``)."""
    from shenjing._out import FACTORIES, OUT_FUNCTIONS, accepting_out

    namespace = globals()
    for name in OUT_FUNCTIONS + FACTORIES:
        if callable(namespace.get(name)):
            namespace[name] = accepting_out(namespace[name], factory=name in FACTORIES)


_accept_out()
