"""Datasets from a folder tree with one sub-folder per class::

    root/cat/001.png         -> (image, 0)
    root/cat/nested/002.jpg  -> (image, 0)
    root/dog/003.png         -> (image, 1)

Classes are the sub-folder names in sorted order; files are found recursively, in sorted order.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator

from shenjing._files import open_regular_file
from shenjing.vision._pil import require_pil
from shenjing.vision.datasets.vision import VisionDataset

__all__ = ["DatasetFolder", "ImageFolder", "IMG_EXTENSIONS", "default_loader", "find_classes", "make_dataset",
           "pil_loader"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def find_classes(directory: str | os.PathLike) -> tuple[list[str], dict[str, int]]:
    """The class names (sorted sub-folder names of ``directory``) and their indices."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"dataset folder {directory} does not exist or is not a folder")
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"found no class folders in {directory}: expected one sub-folder per class, "
                                f"e.g. {directory / 'cat'}/ and {directory / 'dog'}/")
    return classes, {name: i for i, name in enumerate(classes)}


def _walk_each_directory_once(top: str) -> Iterator[tuple[str, list[str]]]:
    """``(folder, sorted file names)`` for ``top`` and the folders under it, depth first in sorted order.

    Symbolic links to folders are followed (as ``os.walk(followlinks=True)`` and PyTorch do), but each real
    folder is entered once: a link loop (``a/b -> a``) ends there instead of repeating files or hanging.
    """
    seen: set[tuple[int, int]] = set()
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            info = os.stat(folder)
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError:
            continue  # unreadable or vanished, as os.walk skips it
        if (info.st_dev, info.st_ino) in seen:
            continue
        seen.add((info.st_dev, info.st_ino))
        subfolders, files = [], []
        for entry in entries:
            try:
                is_folder = entry.is_dir()
            except OSError:
                is_folder = False
            (subfolders if is_folder else files).append(entry.name)
        yield folder, files
        stack += [os.path.join(folder, name) for name in reversed(subfolders)]


def make_dataset(directory: str | os.PathLike, class_to_idx: dict[str, int],
                 extensions: tuple[str, ...] | None = None,
                 is_valid_file: Callable[[str], bool] | None = None,
                 allow_empty: bool = False) -> list[tuple[str, int]]:
    """The ``(path, class_index)`` pairs of the accepted files under each class folder, in sorted order."""
    if (extensions is None) == (is_valid_file is None):
        raise ValueError("pass exactly one of extensions and is_valid_file (both were "
                         f"{'None' if extensions is None else 'given'})")
    if is_valid_file is None:
        suffixes = tuple(e.lower() for e in extensions)

        def is_valid_file(path: str) -> bool:
            return path.lower().endswith(suffixes)

    directory = Path(directory)
    samples, empty = [], []
    for name in sorted(class_to_idx, key=class_to_idx.get):
        found = []
        for folder, files in _walk_each_directory_once(os.path.join(directory, name)):
            found += [(os.path.join(folder, f), class_to_idx[name]) for f in files
                      if is_valid_file(os.path.join(folder, f))]
        samples += found
        if not found:
            empty.append(name)
    if empty and not allow_empty:
        accepted = f"with extensions {', '.join(extensions)}" if extensions else "accepted by is_valid_file"
        raise FileNotFoundError(f"found no files {accepted} in the class folder(s) {', '.join(empty)} of "
                                f"{directory} (pass allow_empty=True to allow empty classes)")
    return samples


def pil_loader(path: str) -> Any:
    """Open an image file with pillow as an RGB image (the file is read and closed at once)."""
    image_module = require_pil("loading image files")
    with open_regular_file(path, "image file") as file:  # a FIFO gives an error instead of hanging
        return image_module.open(file).convert("RGB")


def default_loader(path: str) -> Any:
    return pil_loader(path)


class DatasetFolder(VisionDataset):
    """Samples ``(loader(path), class_index)`` from class sub-folders of ``root`` (see the module docstring).

    Attributes: ``classes`` (sorted folder names), ``class_to_idx``, ``samples`` (list of
    ``(path, class_index)``), ``targets`` (the class indices).
    """

    def __init__(self, root: str | os.PathLike, loader: Callable[[str], Any],
                 extensions: tuple[str, ...] | None = None, transform: Callable | None = None,
                 target_transform: Callable | None = None, is_valid_file: Callable[[str], bool] | None = None,
                 allow_empty: bool = False) -> None:
        super().__init__(root, transform, target_transform)
        self.classes, self.class_to_idx = find_classes(self.root)
        self.samples = make_dataset(self.root, self.class_to_idx, extensions, is_valid_file, allow_empty)
        self.loader = loader
        self.extensions = extensions
        self.targets = [target for _, target in self.samples]

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        path, target = self.samples[index]
        return self._apply_transforms(self.loader(path), target)

    def __len__(self) -> int:
        return len(self.samples)


class ImageFolder(DatasetFolder):
    """Images in class sub-folders: items are ``(image, class_index)``; images load as RGB PIL images.

    Files are accepted by extension (``IMG_EXTENSIONS``: .png, .jpg, .jpeg, .bmp, ...) unless
    ``is_valid_file(path)`` is given. ``imgs`` is an alias of ``samples``. The default loader needs pillow.

    >>> import pathlib, tempfile
    >>> from PIL import Image
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     root = pathlib.Path(tmp)
    ...     for name in ["dog", "cat"]:
    ...         (root / name).mkdir()
    ...         Image.new("L", (4, 3)).save(root / name / "a.png")
    ...     dataset = ImageFolder(root)
    ...     image, label = dataset[1]
    >>> dataset.classes, dataset.class_to_idx, dataset.targets
    (['cat', 'dog'], {'cat': 0, 'dog': 1}, [0, 1])
    >>> image.mode, image.size, label
    ('RGB', (4, 3), 1)
    """

    def __init__(self, root: str | os.PathLike, transform: Callable | None = None,
                 target_transform: Callable | None = None, loader: Callable[[str], Any] | None = None,
                 is_valid_file: Callable[[str], bool] | None = None, allow_empty: bool = False) -> None:
        if loader is None:
            require_pil("ImageFolder's default image loader")
            loader = default_loader
        super().__init__(root, loader, IMG_EXTENSIONS if is_valid_file is None else None, transform,
                         target_transform, is_valid_file, allow_empty)
        self.imgs = self.samples
