"""Export to ONNX, with ``torch.onnx.export``'s signature and meaning (needs ``pip install 'shenjing[onnx]'``).

``export(model, args, "model.onnx")`` runs ``model(*args)`` once in eval mode, records every op the call
runs (``shenjing.onnx._trace``) and writes each as ONNX nodes (opset 17 by default): the parameters and
buffers become initializers named by their ``state_dict`` keys, the arguments the graph's inputs. As with
PyTorch's tracing exporter, Python control flow is unrolled for the traced input, and tensors the forward
call makes from scratch (``shenjing.zeros(...)``) are stored as constants. An op without an ONNX form
raises ``ExportError`` naming the op and the module it ran in.

Usage (the file then runs in onnxruntime, opens in Netron, ...)::

    model = shenjing.models.LeNet5()
    shenjing.onnx.export(model, shenjing.randn(1, 1, 28, 28), "lenet.onnx", input_names=["image"],
                         output_names=["logits"], dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
"""

from __future__ import annotations

import os
from typing import IO, Any, Mapping, Sequence

from shenjing.onnx._graph import ExportError

__all__ = ["export", "ExportError", "is_available", "DEFAULT_OPSET", "MINIMUM_OPSET"]

DEFAULT_OPSET = 17
MINIMUM_OPSET = 17  # LayerNormalization (and the Split/Squeeze/ReduceSum with inputs) are there from 17
INSTALL_HINT = "pip install 'shenjing[onnx]'"


def is_available() -> bool:
    """Whether the ``onnx`` package (what ``export`` writes with) is installed."""
    import importlib.util

    return importlib.util.find_spec("onnx") is not None


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ModuleNotFoundError(f"shenjing.onnx.export needs the onnx package, which is not installed: "
                                  f"{INSTALL_HINT}") from None
    return onnx


def export(model: Any, args: Any, f: str | os.PathLike | IO[bytes], *, input_names: Sequence[str] | None = None,
           output_names: Sequence[str] | None = None,
           dynamic_axes: Mapping[str, Mapping[int, str] | Sequence[int]] | None = None,
           opset_version: int | None = None, do_constant_folding: bool = True, export_params: bool = True) -> None:
    """Trace ``model(*args)`` (eval mode, no gradients) and write it to ``f`` as an ONNX model.

    Args:
        model: a ``shenjing.nn.Module`` (or any callable of tensors; then nothing is named after modules).
        args: the example input: a tensor, or a tuple of tensors (the positional arguments).
        f: a file name or a binary file object.
        input_names, output_names: names of the graph's inputs and outputs, in order (default ``input`` /
            ``input_1``, ... and ``output`` / ``output_1``, ...).
        dynamic_axes: ``{name: {axis: "dim name"}}`` or ``{name: [axis, ...]}``: those axes of those inputs and
            outputs get a symbolic size (e.g. a batch of any size).
        opset_version: the ONNX opset (default 17; 17 up to what the installed onnx knows).
        do_constant_folding: compute nodes whose inputs are all constants at export time (reordered RNN
            weights, transposed Linear weights).
        export_params: store the parameters in the file (``False``: they become inputs of the graph).

    Raises:
        ExportError: an op of the model has no ONNX form (the message names it and the module path).
        ModuleNotFoundError: onnx is not installed (``pip install 'shenjing[onnx]'``).
    """
    onnx = _onnx()
    from shenjing.onnx._build import build_model

    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    newest = onnx.defs.onnx_opset_version()
    if not MINIMUM_OPSET <= opset <= newest:
        raise ValueError(f"opset_version={opset_version} is not supported: shenjing exports opsets "
                         f"{MINIMUM_OPSET} to {newest} (the installed onnx's newest)")
    inputs = tuple(args) if isinstance(args, (tuple, list)) else (args,)
    if inputs and isinstance(inputs[-1], dict):
        if inputs[-1]:
            raise ValueError("keyword arguments in args (a trailing dict) are not supported by shenjing.onnx.export")
        inputs = inputs[:-1]
    proto = build_model(model, inputs, input_names=input_names, output_names=output_names,
                        dynamic_axes=dynamic_axes, opset=opset, fold_constants=do_constant_folding,
                        export_params=export_params)
    onnx.checker.check_model(proto)
    if hasattr(f, "write"):
        f.write(proto.SerializeToString())
    else:
        onnx.save(proto, os.fspath(f))

