"""Which of PyTorch's public names shenjing has, namespace by namespace: the table of docs/compatibility.md.

    python tools/api_coverage.py              # the table
    python tools/api_coverage.py --missing    # and every missing name
    python tools/api_coverage.py --write      # rewrite docs/compatibility.md

The lists come from the installed PyTorch (the test oracle, 2.13), read at run time: the public functions of
``torch``, the public methods and properties of ``torch.Tensor``, ``torch.nn.modules.__all__`` (also split by
the module that defines each layer: losses, activations, ...), the functions of ``torch.nn.functional``,
``torch.nn.init``, ``torch.nn.utils.__all__``, ``torch.linalg``, ``torch.optim.__all__``,
``torch.optim.lr_scheduler.__all__`` and ``torch.utils.data.__all__``. torchvision does not install beside
this PyTorch build, so its image names (``datasets``, ``transforms``, ``utils``, ``io``) are the pinned lists
below, from torchvision 0.28's documentation. A name counts as present when shenjing's namespace of the same
path has an attribute of that name.

Left out on purpose (``EXCLUDED``, each pattern with its reason): private names, other devices' backends,
quantization, sparse and nested tensors, complex numbers, FFT, named tensors, autocast, symbolic shapes and
the JIT/export internals, and the internal kernels that PyTorch exposes at the top level (``*_backward``,
``native_*``, ...).
"""

from __future__ import annotations

import argparse
import inspect
import pathlib
import re
import sys
from typing import Any, Callable

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

EXCLUDED: list[tuple[str, str]] = [
    (r"^_", "private"),
    (r"cuda|cudnn|miopen|mkldnn|mps|xpu|hip|vulkan|metal|fbgemm|onednn|nnpack|xnnpack|mtia|hpu|ipu|"
     r"privateuse|pin_memory|is_pinned|share_memory|is_shared|storage|nbytes|itemsize|data_ptr|untyped|"
     r"^is_vulkan|^is_meta|^is_mkldnn|^to_mkldnn|^ve$", "other devices, memory internals"),
    (r"quant|^q_|qint|quint|int_repr|_per_channel|_per_tensor|^qscheme|fake_quant|fbgemm",
     "quantization"),
    (r"sparse|coo|csr|csc|bsr|bsc|_nnz|^to_dense|^hspmm|^smm|^sspaddmm|^indices$|^values$|^crow_|^col_|"
     r"^row_indices|^ccol|^dense_dim|^coalesce|^is_coalesced|^_values", "sparse tensors"),
    (r"^nested|^is_nested|nested_tensor|^to_padded_tensor", "nested tensors"),
    (r"DataPipe|datapipe|^DataChunk$|^argument_validation$|^non_deterministic$|^runtime_validation",
     "DataPipes (torch.utils.data's deprecated torchdata layer)"),
    (r"^(classproperty|merge_type_from_type_comment|parse_ir|parse_schema|parse_type_comment|fork|wait|"
     r"import_ir_module.*|prepare_multiprocessing_environment|get_file_path|boolean_dispatch|"
     r"assert_int_or_pair|record_stream|is_maia|is_xla|volatile|reinforce|module_load|Container|"
     r"dsmm|hsmm|saddmm|spmm|symeig|.*grouped_mm|scaled_mm)$",
     "legacy, TorchScript, device-stream or fp8 names"),
    (r"complex|^c(half|float|double)$|^H$|^mH$|^polar$|^view_as_real|^conj_physical|^resolve_conj|^resolve_neg|"
     r"^is_conj$|^is_neg$|^adjoint$|^angle$|^real$|^imag$|^conj$|^sgn$", "complex numbers"),
    (r"^stft$|^istft$|^fft|window$", "FFT and spectral windows"),
    (r"^align_|^rename|^refine_names|^names$|^has_names|^unflatten_dense", "named tensors"),
    (r"autocast", "autocast (mixed precision, device-oriented)"),
    (r"^sym_|^Sym|^is_symbolic|^guard_|^export|^jit|^fx|^compiled_with|^vmap$|^cond$|^while_loop$|^func$|"
     r"^library|^ops$|^classes$|^overrides|^is_tensor_like|^has_torch_function|^handle_torch_function|"
     r"torch_function|torch_dispatch|^__|^get_device_module|^set_default_device|^typename$|"
     r"^unify_type_list|^is_warn_always|^set_warn_always|^promote_types_internal|^lobpcg$|^dsplit_|^hsplit_",
     "JIT/export and dispatch internals"),
    (r"_backward$|^native_|^batch_norm_(backward|elemt|gather|stats|update)|_jvp$|^choose_qparams|"
     r"^segment_reduce|^embedding_renorm_|^fused_moving|^rnn_(tanh|relu)_cell$|^(lstm|gru)_cell$|"
     r"^conv_tbc|^result_type_internal|^slice_inverse|^affine_grid_generator|^grid_sampler_[23]d|"
     r"^cudnn_grid|^is_vulkan|^miopen|^(max|min)_pool[123]d_with_indices$|^_|_copy$",
     "internal kernels that PyTorch exposes at the top level (and the *_copy variants of views)"),
]
_EXCLUDED = [(re.compile(pattern), reason) for pattern, reason in EXCLUDED]

# torchvision 0.28 (its documentation): the names for images that users reach for.
TORCHVISION = {
    "vision.datasets": ["MNIST", "FashionMNIST", "KMNIST", "EMNIST", "QMNIST", "CIFAR10", "CIFAR100", "SVHN",
                        "STL10", "FakeData", "ImageFolder", "DatasetFolder", "VisionDataset"],
    "vision.transforms": ["Compose", "ToTensor", "PILToTensor", "ToPILImage", "Normalize", "Resize", "CenterCrop",
                          "RandomCrop", "RandomResizedCrop", "RandomHorizontalFlip", "RandomVerticalFlip",
                          "RandomRotation", "RandomAffine", "RandomPerspective", "ColorJitter", "Grayscale",
                          "RandomGrayscale", "GaussianBlur", "RandomErasing", "Pad", "Lambda", "RandomApply",
                          "RandomChoice", "RandomOrder", "FiveCrop", "TenCrop", "LinearTransformation",
                          "RandomInvert", "RandomPosterize", "RandomSolarize", "RandomAdjustSharpness",
                          "RandomAutocontrast", "RandomEqualize", "AutoAugment", "RandAugment", "TrivialAugmentWide",
                          "AugMix", "ConvertImageDtype", "ElasticTransform", "functional"],
    "vision.utils": ["make_grid", "save_image", "draw_bounding_boxes", "draw_segmentation_masks", "draw_keypoints"],
    "vision.io": ["read_image", "decode_image", "write_png", "encode_png", "decode_png", "write_jpeg",
                  "encode_jpeg", "decode_jpeg", "read_file", "write_file", "ImageReadMode"],
}


# Names that are present but behave differently from PyTorch, or are missing on purpose, with why.
DIFFERENCES: list[str] = [
    "`linalg.eig` / `linalg.eigvals`: PyTorch returns complex tensors; shenjing has no complex dtype, so it returns "
    "real tensors for matrices whose eigenvalues are all real and raises a clear error otherwise.",
    "`Tensor.bfloat16()`: NumPy has no bfloat16; it raises a TypeError that names float16 and float32.",
    "`as_strided`, `as_strided_`, `as_strided_scatter`: strides and offset count the tensor's elements in "
    "row-major order. For a contiguous tensor that is PyTorch's storage and the result is a view; for a "
    "non-contiguous one PyTorch reads its underlying storage while shenjing reads a row-major copy. Overlapping "
    "views (and `unfold` windows that overlap) are read-only. (PyTorch 2.13's gradient of `as_strided_scatter` "
    "with respect to its input is wrong; shenjing's is the derivative, checked by central differences.)",
    "`Tensor.is_inference()` is always False: `inference_mode` is `no_grad` here and makes no inference "
    "tensors (`is_inference_mode_enabled()` does report the mode).",
    "`set_num_threads` limits NumPy's BLAS pools through threadpoolctl when it is installed, else records the "
    "value; `use_deterministic_algorithms` changes nothing (every op is deterministic); "
    "`set_float32_matmul_precision` is recorded (NumPy's float32 matmul is full precision); "
    "`set_flush_denormal` returns False (not reachable from NumPy).",
    "`torch.solve`, `torch.lstsq`, `torch.eig`, `torch.matrix_rank` (and the methods): removed from PyTorch "
    "in 1.9; they raise, as PyTorch's do, naming the `linalg` replacement.",
    "`embedding_bag` at the top level returns ATen's four outputs; for mode 0 (sum) `offset2bag` is empty, "
    "as PyTorch's CPU kernel leaves it on its usual path.",
    "`rrelu` at the top level takes no `generator` (its slopes come from the default generator).",
    "`lstm` / `gru` / `rnn_tanh` / `rnn_relu`: the padded form (input, hx, params, ...); the packed form "
    "(data, batch_sizes, ...) raises NotImplementedError (use the layers with a PackedSequence).",
    "Samplers (`poisson`, `binomial`, `cauchy_`, `exponential_`, `geometric_`, `log_normal_`) draw from "
    "shenjing's generator with their own algorithms: the distributions are PyTorch's, the numbers are not.",
    "Missing on purpose: `hash_tensor` (its result is uint64, a dtype shenjing does not have), `Tensor.index` "
    "(first-class dims of functorch) and `Tensor.name` (named tensors).",
]


def excluded(name: str) -> str | None:
    """The reason ``name`` is left out, or None."""
    for pattern, reason in _EXCLUDED:
        if pattern.search(name):
            return reason
    return None


def _public(names: Any, keep: Callable[[str], bool] = lambda name: True) -> list[str]:
    return sorted({name for name in names if keep(name) and excluded(name) is None})


def _functions_of(module: Any) -> list[str]:
    """The public functions of a module (defined by PyTorch: no typing helpers, no imported modules)."""
    def keep(name: str) -> bool:
        value = getattr(module, name)
        if inspect.ismodule(value) or inspect.isclass(value):
            return False
        if not callable(value):
            return False
        home = getattr(value, "__module__", None) or "torch"
        return home.startswith("torch")
    return _public(dir(module), keep)


def namespaces() -> list[tuple[str, str, list[str]]]:
    """(title, shenjing path, PyTorch's names) for every row of the table."""
    import torch
    import torch.nn.functional
    import torch.optim.lr_scheduler
    import torch.utils.data

    rows = [
        ("torch (functions)", "", _functions_of(torch)),
        ("torch.Tensor (methods, properties)", "Tensor", _public(dir(torch.Tensor))),
        ("torch.nn (layers, all)", "nn", _public(torch.nn.modules.__all__)),
    ]
    kinds: dict[str, list[str]] = {}
    for name in torch.nn.modules.__all__:
        kinds.setdefault(getattr(torch.nn, name).__module__.rsplit(".", 1)[-1], []).append(name)
    groups = {"loss": ["loss"], "activation": ["activation"], "normalisation": ["batchnorm", "instancenorm",
              "normalization"], "convolution": ["conv", "fold"], "pooling": ["pooling", "adaptive"],
              "recurrent": ["rnn"], "padding": ["padding"], "transformer": ["transformer"]}
    for title, modules in groups.items():
        rows.append((f"  torch.nn: {title}", "nn", _public(sum((kinds.get(m, []) for m in modules), []))))
    rows += [
        ("torch.nn.functional", "nn.functional", _functions_of(torch.nn.functional)),
        ("torch.nn.init", "nn.init", _functions_of(torch.nn.init)),
        ("torch.nn.utils", "nn.utils", _public(torch.nn.utils.__all__)),
        ("torch.linalg", "linalg", _functions_of(torch.linalg)),
        ("torch.optim", "optim", _public(torch.optim.__all__)),
        ("torch.optim.lr_scheduler", "optim.lr_scheduler", _public(torch.optim.lr_scheduler.__all__)),
        ("torch.utils.data", "utils.data", _public(torch.utils.data.__all__)),
    ]
    rows += [(f"torch{path[6:]} (pinned list)".replace("torch.", "torchvision.", 1), path, sorted(names))
             for path, names in TORCHVISION.items()]
    return rows


def _resolve(path: str) -> Any:
    import shenjing

    value: Any = shenjing
    for part in filter(None, path.split(".")):
        value = getattr(value, part, None)
        if value is None:
            try:  # a subpackage not imported by shenjing's __init__
                import importlib

                value = importlib.import_module(f"shenjing.{path}")
            except ImportError:
                return None
            break
    return value


def coverage() -> list[tuple[str, str, list[str], list[str]]]:
    """(title, shenjing path, present names, missing names) per row."""
    result = []
    for title, path, names in namespaces():
        ours = _resolve(path)
        present = [n for n in names if ours is not None and hasattr(ours, n)]
        missing = [n for n in names if n not in present]
        result.append((title, path, present, missing))
    return result


def table(rows: list) -> str:
    lines = ["| PyTorch namespace | shenjing | has | of | share |", "|---|---|---:|---:|---:|"]
    for title, path, present, missing in rows:
        total = len(present) + len(missing)
        share = f"{100 * len(present) / total:.0f}%" if total else "-"
        lines.append(f"| {title} | `shenjing{'.' + path if path else ''}` | {len(present)} | {total} | {share} |")
    return "\n".join(lines)


def document(rows: list) -> str:
    import numpy
    import torch

    reasons = "\n".join(f"- {reason}: `{pattern}`" for pattern, reason in EXCLUDED)
    differences = "\n".join(f"- {line}" for line in DIFFERENCES)
    missing = "\n".join(f"- **{title.strip()}** ({len(m)}): " + ", ".join(f"`{n}`" for n in m)
                        for title, _, _, m in rows if m)
    return f"""# Compatibility with PyTorch

shenjing promises that PyTorch code runs with the imports changed. This page says how much of PyTorch's
public API is there, per namespace, measured against PyTorch {torch.__version__.split('+')[0]} itself (NumPy
{numpy.__version__}). Regenerate it with

    python tools/api_coverage.py --write

(it needs PyTorch installed, as the tests do). A name counts when shenjing has an attribute of that name in
the same place; whether it behaves as PyTorch's is what the tests check, op by op, against PyTorch.
What PyTorch's tutorials print under both libraries, line by line: [tutorials.md](tutorials.md).

{table(rows)}

## Left out on purpose

Names matching these patterns are not counted (private names, other devices, and parts of PyTorch that a
NumPy library for learning does not aim at):

{reasons}

## Where shenjing differs (and what is missing on purpose)

{differences}

## Missing

{missing}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--missing", action="store_true", help="list every missing name")
    parser.add_argument("--write", action="store_true", help="rewrite docs/compatibility.md")
    args = parser.parse_args()
    rows = coverage()
    print(table(rows))
    if args.missing:
        for title, _, _, missing in rows:
            if missing:
                print(f"\n{title.strip()} ({len(missing)} missing): {', '.join(missing)}")
    if args.write:
        (ROOT / "docs" / "compatibility.md").write_text(document(rows))
        print("\nwrote docs/compatibility.md")


if __name__ == "__main__":
    main()
