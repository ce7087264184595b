"""``save`` / ``load``: checkpoints that are safe to load from strangers (no pickle, nothing executable).

What can be saved: tensors (and ``Parameter`` s), NumPy arrays, ``int``, ``float``, ``bool``, ``str``,
``None``, shenjing dtypes, and ``dict`` / ``OrderedDict`` / ``list`` / ``tuple`` nesting them — that is,
state_dicts, optimiser states and training checkpoints. NumPy scalars are saved as the matching Python
number. Whole modules (``save(model, f)``) are saved too: their class by its path and their attributes
(parameters, buffers, child modules, plain values, and functions such as an ``activation``), never a pickle.
Anything else (a function outside a module, an open file, ...) raises ``TypeError`` naming where it sits.

Whole modules
-------------
``load`` rebuilds a module without calling its ``__init__``: ``object.__new__(cls)``, then its saved attributes
(``__dict__``) are put back, so the loaded model holds the same parameters, buffers, children, mode and settings.
The class must be shenjing's own (``shenjing.nn.Linear``, ...) or allowed, as PyTorch 2.6+'s ``weights_only``
loading: ``shenjing.serialization.add_safe_globals([Net])`` or ``with shenjing.serialization.safe_globals([Net]):``
(``load(..., weights_only=False)`` also accepts ``nn.Module`` subclasses of modules already imported, e.g. the
script's own ``Net``). A class that is not allowed gives ``UnsafeCheckpointError`` naming it and these fixes.
Loading never imports a module outside shenjing and never runs code from the file. Limits: modules with hooks
(including old-style ``weight_norm`` / ``spectral_norm``) and parametrized modules are refused at save (save
their ``state_dict``); attributes must be of the types above, other modules, sets, or module-level functions and
classes; classes with their own ``__new__`` or ``__slots__`` state are not rebuilt; a class whose code changed
since saving gets the old attributes (as with pickle).

File format (version 1)
-----------------------
The file is a ZIP archive written by ``numpy.savez``, so ``numpy.load(path)`` opens it:

- ``__shenjing__``: a 1-D ``uint8`` array holding UTF-8 JSON that describes the saved object::

      {"format": "shenjing-checkpoint", "version": 1, "root": NODE}

- ``t0``, ``t1``, ...: one ``.npy`` entry per distinct tensor or array (a tensor saved twice is stored
  once and loads as one shared object).

A NODE is a JSON object with a ``"type"``:

===============  ==============================================================================
``tensor``       ``{"key": "t0", "dtype": "float32", "requires_grad": false, "parameter": false}``
``ndarray``      ``{"key": "t1"}`` (loads as a NumPy array)
``int``          ``{"value": 3}``; likewise ``float`` (``NaN``/``Infinity`` as Python's json writes
                 them), ``bool``, ``str``; ``none`` has no value
``dtype``        ``{"name": "float32"}``
``list``         ``{"items": [NODE, ...]}``; likewise ``tuple``
``dict``         ``{"ordered": false, "items": [[KEY_NODE, VALUE_NODE], ...]}``, insertion order kept;
                 keys may be str, int, float, bool, None or tuples of them (optimiser states use ints)
``module``       ``{"id": 0, "module": "shenjing.nn.modules.linear", "qualname": "Linear", "state": DICT}``
                 (version 2); ``ref`` ``{"id": 0}`` is the same module again (shared submodules)
``set``          ``{"items": [NODE, ...]}`` and ``global`` ``{"module": ..., "qualname": ...}`` (a function or
                 class), inside modules only (version 2)
===============  ==============================================================================

Files without modules are written as version 1, so older shenjing reads them.

Loading never unpickles and checks everything it reads before trusting it (``_checkpoint_archive``):
every entry is read whole so its ZIP CRC-32 is verified, each ``.npy`` header's shape must account for
exactly the bytes of its entry, dtypes must be shenjing's (big-endian data is converted; complex, string,
datetime, structured, uint16/32/64 are refused), duplicate or non-array entries are refused, and the
entries may decompress to at most ``MAX_DECOMPRESSION_RATIO`` (64) times the file's size. A file that is
not such an archive, or that fails any check or disagrees with the description, raises
``CheckpointError`` naming the file (and the entry).

Writing is atomic: the archive goes to a temporary file in the target's directory, is flushed to disk
(``fsync``) and then renamed over the target (``os.replace``), so a crash leaves either the old file
or the new one, never half of one. The target keeps its permissions, a symbolic link is written through
(its target is replaced), and temporary files left by saves killed mid-way are removed by the next save
of the same path. (A file object passed instead of a path is written directly.)

>>> import os, tempfile, shenjing
>>> path = os.path.join(tempfile.mkdtemp(), "ckpt.pt")
>>> shenjing.save({"epoch": 3, "w": shenjing.ones(2)}, path)
>>> shenjing.load(path)
{'epoch': 3, 'w': tensor([1., 1.])}
"""

from __future__ import annotations

import inspect
import io
import json
import os
from collections import OrderedDict
from typing import IO, Any, Union

import numpy as np

from shenjing import _dtype
from shenjing._checkpoint_archive import SUPPORTED_DTYPES, CheckpointError, read_arrays
from shenjing._files import atomic_write, open_regular_file
from shenjing._safe_globals import (add_safe_globals, clear_safe_globals, get_safe_globals, path_of, resolve,
                                    safe_globals)
from shenjing._tensor import Tensor

__all__ = ["save", "load", "CheckpointError", "UnsafeCheckpointError", "MAX_DECOMPRESSION_RATIO",
           "add_safe_globals", "safe_globals", "get_safe_globals", "clear_safe_globals"]

FORMAT = "shenjing-checkpoint"
VERSION = 2  # the newest version read; files without modules are still written as version 1
STRUCTURE_KEY = "__shenjing__"
_ZIP_SIGNATURE = b"PK\x03\x04"

#: Default bound of ``load``: the entries of a checkpoint may decompress to at most this many times the size
#: of the file (``shenjing.save`` stores arrays uncompressed, a ratio of about 1). Raise it here, or per call
#: with ``load(..., max_decompression_ratio=...)``, for trusted, heavily compressed archives.
MAX_DECOMPRESSION_RATIO = 64.0

FileLike = Union[str, "os.PathLike[str]", IO[bytes]]


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint names a class or function that loading may not use (see ``add_safe_globals``)."""


# -- encoding: object -> (JSON node, arrays) -------------------------------------------------------


class _Encoder:
    """Walks the object once, turning it into JSON nodes and collecting arrays under keys t0, t1, ..."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self._keys: dict[int, str] = {}       # id(tensor) -> key: a tensor saved twice is stored once
        self._alive: list[Any] = []           # keeps those objects alive so their ids stay unique
        self._open: list[int] = []            # ids of containers being encoded, to detect cycles
        self._objects: dict[int, int] = {}    # id(module) -> its number: a module saved twice is stored once
        self._inside_module = 0               # functions may be saved only as attributes of modules
        self.version = 1                      # 2 once a module, set or function is saved

    def _store(self, obj: Any, array: np.ndarray, where: str) -> str:
        if array.dtype.hasobject:
            raise TypeError(f"save: the array at {where} has dtype object, which cannot be saved safely")
        if array.dtype.newbyteorder("=") not in SUPPORTED_DTYPES:
            raise TypeError(f"save: the array at {where} has dtype {array.dtype}; checkpoints hold float16, "
                            f"float32, float64, int8, int16, int32, int64, uint8 and bool arrays")
        if id(obj) not in self._keys:
            key = f"t{len(self.arrays)}"
            self.arrays[key] = array
            self._keys[id(obj)] = key
            self._alive.append(obj)
        return self._keys[id(obj)]

    def encode(self, obj: Any, where: str = "obj") -> dict:
        if isinstance(obj, Tensor):
            from shenjing.nn.parameter import Parameter

            return {"type": "tensor", "key": self._store(obj, obj._data, where), "dtype": str(obj._data.dtype),
                    "requires_grad": bool(obj.requires_grad), "parameter": isinstance(obj, Parameter)}
        if isinstance(obj, np.ndarray):
            return {"type": "ndarray", "key": self._store(obj, obj, where)}
        if obj is None:
            return {"type": "none"}
        if isinstance(obj, (bool, np.bool_)):
            return {"type": "bool", "value": bool(obj)}
        if isinstance(obj, (int, np.integer)):
            return {"type": "int", "value": int(obj)}
        if isinstance(obj, (float, np.floating)):
            return {"type": "float", "value": float(obj)}
        if isinstance(obj, str):
            return {"type": "str", "value": obj}
        if isinstance(obj, _dtype.dtype):
            return {"type": "dtype", "name": obj.name}
        from shenjing.nn.modules.module import Module

        if isinstance(obj, Module):
            return self._encode_module(obj, where)
        if isinstance(obj, (set, frozenset)) and self._inside_module:
            self.version = 2
            items = [self.encode(item, f"{where} item") for item in obj]
            return {"type": "set", "items": sorted(items, key=lambda node: json.dumps(node, sort_keys=True))}
        if self._inside_module and (inspect.isfunction(obj) or inspect.isclass(obj) or inspect.isbuiltin(obj)):
            module, qualname = path_of(obj)
            self.version = 2
            return {"type": "global", "module": module, "qualname": qualname}
        if isinstance(obj, (list, tuple, dict)):
            if id(obj) in self._open:
                raise ValueError(f"save: {where} contains itself (a cyclic structure cannot be saved)")
            self._open.append(id(obj))
            try:
                return self._encode_container(obj, where)
            finally:
                self._open.pop()
        raise TypeError(f"save: cannot save an object of type {type(obj).__module__}.{type(obj).__qualname__} "
                        f"(at {where}); checkpoints hold tensors, arrays, numbers, strings, None, bools, "
                        f"dtypes and dicts/lists/tuples of them")

    def _encode_module(self, module: Any, where: str) -> dict:
        """A module as its class path and its attributes (parameters, buffers, children and plain values)."""
        from shenjing.nn.utils.parametrize import is_parametrized

        self.version = 2
        if id(module) in self._objects:
            return {"type": "ref", "id": self._objects[id(module)]}
        cls = type(module)
        if is_parametrized(module):
            raise TypeError(f"save: the module at {where} is parametrized ({cls.__name__}); as in PyTorch, "
                            f"parametrized modules are saved through state_dict() only")
        hooks = [name for name, value in module.__dict__.items() if name.endswith("_hooks") and value]
        if hooks:
            raise TypeError(f"save: the module at {where} ({cls.__name__}) has hooks ({', '.join(hooks)}); hooks are "
                            f"functions and are not saved: remove them (or undo weight_norm/spectral_norm), or save "
                            f"its state_dict()")
        module_name, qualname = path_of(cls)
        number = len(self._objects)
        self._objects[id(module)] = number
        self._alive.append(module)
        self._inside_module += 1
        try:
            state = self._encode_container(dict(module.__dict__), f"{where} ({cls.__name__})")
        finally:
            self._inside_module -= 1
        return {"type": "module", "id": number, "module": module_name, "qualname": qualname, "state": state}

    def _encode_container(self, obj: list | tuple | dict, where: str) -> dict:
        if isinstance(obj, dict):
            items = []
            for key, value in obj.items():
                key_node = self.encode(key, f"{where} key {key!r}")
                if key_node["type"] not in ("str", "int", "float", "bool", "none", "tuple"):
                    raise TypeError(f"save: dict key {key!r} at {where} must be a str, number, bool, None or "
                                    f"tuple")
                items.append([key_node, self.encode(value, f"{where}[{key!r}]")])
            return {"type": "dict", "ordered": isinstance(obj, OrderedDict), "items": items}
        kind = "tuple" if isinstance(obj, tuple) else "list"
        return {"type": kind, "items": [self.encode(item, f"{where}[{i}]") for i, item in enumerate(obj)]}


# -- decoding: (JSON node, archive) -> object ------------------------------------------------------


def _native_dtype_name(name: Any) -> str | None:
    try:
        return str(np.dtype(name).newbyteorder("=")) if isinstance(name, str) else None
    except (TypeError, ValueError):
        return None


class _Decoder:
    """Rebuilds the object from its JSON description, checking every node against the format."""

    def __init__(self, arrays: dict[str, np.ndarray], name: str, trust_imported: bool = False) -> None:
        self.arrays = arrays
        self.name = name
        self.trust_imported = trust_imported
        self._loaded: dict[str, Any] = {}
        self._modules: dict[int, Any] = {}

    def fail(self, reason: str) -> CheckpointError:
        return CheckpointError(f"{self.name}: {reason}")

    def _array(self, node: dict) -> np.ndarray:
        key = node.get("key")
        if not isinstance(key, str) or key == STRUCTURE_KEY or key not in self.arrays:
            raise self.fail(f"the description refers to a missing array entry {key!r}")
        return self.arrays[key]

    def decode(self, node: Any) -> Any:
        if not isinstance(node, dict) or "type" not in node:
            raise self.fail(f"malformed description node {str(node)[:80]!r}")
        kind = node["type"]
        if kind in ("tensor", "ndarray"):
            key = node.get("key")
            if key not in self._loaded:
                self._loaded[key] = self._build_array(node, kind)
            return self._loaded[key]
        if kind == "none":
            return None
        if kind in ("bool", "int", "float", "str"):
            value = node.get("value")
            expected = {"bool": bool, "int": int, "float": (float, int), "str": str}[kind]
            if not isinstance(value, expected) or (kind == "int" and isinstance(value, bool)):
                raise self.fail(f"a {kind} node holds {value!r}")
            return float(value) if kind == "float" else value
        if kind == "dtype":
            try:
                return _dtype.as_dtype(str(node.get("name")))
            except TypeError as error:
                raise self.fail(str(error)) from None
        if kind in ("list", "tuple"):
            items = [self.decode(item) for item in self._items(node)]
            return tuple(items) if kind == "tuple" else items
        if kind == "dict":
            result = OrderedDict() if node.get("ordered") else {}
            for pair in self._items(node):
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise self.fail("a dict item is not a [key, value] pair")
                key = self.decode(pair[0])
                try:
                    result[key] = self.decode(pair[1])
                except TypeError:
                    raise self.fail(f"unhashable dict key {key!r}") from None
            return result
        if kind == "set":
            return set(self.decode(item) for item in self._items(node))
        if kind == "global":
            return self._resolve(node, want_module_class=False)
        if kind == "module":
            return self._build_module(node)
        if kind == "ref":
            if node.get("id") not in self._modules:
                raise self.fail(f"a module reference to {node.get('id')!r} comes before that module")
            return self._modules[node["id"]]
        raise self.fail(f"unknown node type {kind!r}")

    def _resolve(self, node: dict, want_module_class: bool) -> Any:
        module, qualname = node.get("module"), node.get("qualname")
        if not isinstance(module, str) or not isinstance(qualname, str):
            raise self.fail("a class or function node has no module/qualname")
        value = resolve(module, qualname, want_module_class=want_module_class, trust_imported=self.trust_imported)
        if value is None:
            what = "class" if want_module_class else "global"
            raise UnsafeCheckpointError(
                f"{self.name} holds the {what} {module}.{qualname}, which is not allowed by default (loading never "
                f"imports or runs code from a checkpoint). If you trust it, allow it: "
                f"shenjing.serialization.add_safe_globals([{qualname}]), or load inside "
                f"`with shenjing.serialization.safe_globals([{qualname}]):`; or pass weights_only=False to accept "
                f"nn.Module subclasses of modules already imported (define or import {qualname} first).")
        return value

    def _build_module(self, node: dict) -> Any:
        """A module object made without calling __init__ (``object.__new__``), then given its saved attributes."""
        from shenjing.nn.modules.module import Module
        from shenjing.nn.parameter import Parameter

        cls = self._resolve(node, want_module_class=True)
        if not (isinstance(cls, type) and issubclass(cls, Module)):
            raise self.fail(f"{node.get('module')}.{node.get('qualname')} is not an nn.Module subclass")
        if cls.__new__ is not object.__new__:
            raise self.fail(f"{cls.__qualname__} defines __new__, so it cannot be rebuilt without running code")
        if not isinstance(node.get("id"), int) or node["id"] in self._modules:
            raise self.fail("a module node has a missing or repeated id")
        module = object.__new__(cls)
        self._modules[node["id"]] = module
        state = self.decode(node.get("state"))
        registries = {"_parameters": Parameter, "_buffers": Tensor, "_modules": Module}
        if not isinstance(state, dict) or not all(isinstance(key, str) for key in state) or not all(
                isinstance(state.get(key), dict) for key in registries) or not isinstance(state.get("training"), bool):
            raise self.fail(f"the saved state of a {cls.__qualname__} is not a module's attributes")
        for registry, kind in registries.items():
            for name, value in state[registry].items():
                if not isinstance(name, str) or not (value is None or isinstance(value, kind)):
                    raise self.fail(f"{cls.__qualname__}.{registry}[{name!r}] is not a {kind.__name__} or None")
        module.__dict__.update(state)
        return module

    def _items(self, node: dict) -> list:
        items = node.get("items")
        if not isinstance(items, list):
            raise self.fail(f"a {node['type']} node has no item list")
        return items

    def _build_array(self, node: dict, kind: str) -> Any:
        array = self._array(node)
        if kind == "ndarray":
            return array
        if _native_dtype_name(node.get("dtype")) != str(array.dtype):  # ">f4" in a description: float32
            raise self.fail(f"entry {node['key']} has dtype {array.dtype} but the description says "
                            f"{node.get('dtype')}")
        tensor = Tensor._make(array)
        requires_grad = bool(node.get("requires_grad")) and array.dtype.kind == "f"
        if node.get("parameter"):
            from shenjing.nn.parameter import Parameter

            return Parameter(tensor, requires_grad=requires_grad)
        tensor.requires_grad = requires_grad
        return tensor


# -- files -----------------------------------------------------------------------------------------


def _describe(f: Any) -> str:
    if isinstance(f, (str, os.PathLike)):
        return f"'{os.fspath(f)}'"
    return f"'{getattr(f, 'name', None)}'" if isinstance(getattr(f, "name", None), str) else repr(f)


def _write_archive(stream: IO[bytes], encoder: _Encoder, root: dict) -> None:
    structure = json.dumps({"format": FORMAT, "version": encoder.version, "root": root}).encode("utf-8")
    np.savez(stream, **{STRUCTURE_KEY: np.frombuffer(structure, dtype=np.uint8)}, **encoder.arrays)


def save(obj: Any, f: FileLike, pickle_module: Any = None, pickle_protocol: Any = None,
         _use_new_zipfile_serialization: bool = True) -> None:
    """Save ``obj`` (tensors, numbers, strings, nested dicts/lists/tuples, whole modules) to ``f``, atomically.

    ``f`` is a path (str or ``os.PathLike``; written exactly there, whatever its suffix) or a binary
    file object. The pickle arguments exist for PyTorch compatibility and are ignored: no pickle is used.
    See the module docstring for the format.

    >>> import io, shenjing
    >>> buffer = io.BytesIO()
    >>> shenjing.save({"step": 1, "betas": (0.9, 0.999)}, buffer)
    >>> _ = buffer.seek(0)
    >>> shenjing.load(buffer)
    {'step': 1, 'betas': (0.9, 0.999)}
    """
    encoder = _Encoder()
    root = encoder.encode(obj)
    if isinstance(f, (str, os.PathLike)):
        atomic_write(os.fspath(f), lambda stream: _write_archive(stream, encoder, root))
    else:
        _write_archive(f, encoder, root)
        if hasattr(f, "flush"):
            f.flush()


def load(f: FileLike, map_location: Any = None, pickle_module: Any = None, *, weights_only: bool | None = None,
         mmap: bool | None = None, max_decompression_ratio: float | None = None, **pickle_load_args: Any) -> Any:
    """Load an object saved by ``save`` from a path or a binary file object.

    ``map_location`` and the pickle arguments are accepted for PyTorch compatibility and ignored: everything
    is loaded on the CPU, and loading is always safe (no code runs, nothing is unpickled). Whole modules load
    for shenjing's own classes and allow-listed ones (``add_safe_globals``); ``weights_only=False`` also accepts
    ``nn.Module`` subclasses of modules already imported (see the module docstring).
    Raises ``FileNotFoundError`` for a missing path and ``CheckpointError`` (a ``ValueError`` and
    ``RuntimeError``) naming the file when it is not a valid checkpoint: corrupted (every entry's CRC is
    checked), an array header that disagrees with its entry's size, an unsupported dtype (complex, string,
    datetime, structured, uint16/32/64; big-endian arrays are accepted and converted), duplicate entries, or
    a path that is a FIFO or device rather than a regular file.

    ``max_decompression_ratio`` bounds the total size of the arrays once decompressed, as a multiple of the
    file's size (at least 1 MiB is always allowed): a small file that would inflate to gigabytes is refused
    before anything is decompressed. It defaults to ``shenjing.serialization.MAX_DECOMPRESSION_RATIO`` (64);
    pass a larger value (or set that module attribute) to load a trusted, heavily compressed archive.
    """
    name = _describe(f)
    ratio = MAX_DECOMPRESSION_RATIO if max_decompression_ratio is None else float(max_decompression_ratio)
    if not ratio > 0:
        raise ValueError(f"max_decompression_ratio must be positive, got {max_decompression_ratio!r}")
    if isinstance(f, (str, os.PathLike)):
        with open_regular_file(f, "checkpoint", CheckpointError) as stream:
            return _load_stream(stream, name, ratio, weights_only is False)
    if not (hasattr(f, "seekable") and f.seekable()):
        f = io.BytesIO(f.read())
    return _load_stream(f, name, ratio, weights_only is False)


def _load_stream(stream: IO[bytes], name: str, ratio: float, trust_imported: bool = False) -> Any:
    start = stream.tell()
    signature = stream.read(4)
    stream.seek(start)
    if signature != _ZIP_SIGNATURE:
        what = "an empty file" if not signature else "not a ZIP (.npz) archive"
        raise CheckpointError(f"{name} is not a shenjing checkpoint ({what}; shenjing.save writes .npz archives)")
    arrays = read_arrays(stream, name, ratio, STRUCTURE_KEY)
    structure = arrays.pop(STRUCTURE_KEY)
    if structure.dtype != np.uint8 or structure.ndim != 1:
        raise CheckpointError(f"{name}: the '{STRUCTURE_KEY}' entry is not a 1-D uint8 array of JSON")
    try:
        description = json.loads(structure.tobytes().decode("utf-8"))
    except (ValueError, RecursionError) as error:
        raise CheckpointError(f"{name} is corrupted: its description is not valid JSON ({error})") from None
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise CheckpointError(f"{name}: the '{STRUCTURE_KEY}' entry is not a shenjing checkpoint description")
    if not isinstance(description.get("version"), int) or description["version"] > VERSION:
        raise CheckpointError(f"{name} has checkpoint format version {description.get('version')!r}; "
                              f"this shenjing reads versions up to {VERSION} (upgrade shenjing)")
    try:
        return _Decoder(arrays, name, trust_imported).decode(description.get("root"))
    except CheckpointError:
        raise
    except RecursionError:
        raise CheckpointError(f"{name}: its description is nested too deeply to load") from None
    except Exception as error:  # a description that passes the node checks but cannot be built
        raise CheckpointError(f"{name} is corrupted ({type(error).__name__}: {error})") from error
