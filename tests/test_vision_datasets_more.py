"""CIFAR10/100, STL10, SVHN, EMNIST and QMNIST read from small fake files written in torchvision's exact formats
(never downloaded), and the pickle reader that refuses anything but data."""

from __future__ import annotations

import gzip
import hashlib
import lzma
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from shenjing.vision import datasets
from shenjing.vision.datasets._download import ChecksumError
from shenjing.vision.datasets._safe_pickle import UnsafePickleError, load_data_pickle

RNG = np.random.default_rng(0)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def write_pickle(path: Path, obj, protocol=2) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return md5(path)


def fake_cifar(root: Path, hundred: bool = False, protocol: int = 2):
    """CIFAR files as the authors' python version holds them: pickled dicts with a uint8 N x 3072 'data' array
    (channel planes, rows) and label lists; returns (subclass with these files' md5s, images NHWC, labels)."""
    folder = root / ("cifar-100-python" if hundred else "cifar-10-batches-py")
    names = ["train"] if hundred else [f"data_batch_{i}" for i in range(1, 6)]
    train_list, images, labels = [], [], []
    for name in names:
        data = RNG.integers(0, 256, (3, 3 * 32 * 32), dtype=np.uint8)
        batch_labels = [int(x) for x in RNG.integers(0, 100 if hundred else 10, 3)]
        entry = {"batch_label": f"fake {name}", "data": data, "filenames": [f"{name}_{i}.png" for i in range(3)]}
        if hundred:
            entry.update(fine_labels=batch_labels, coarse_labels=[x // 5 for x in batch_labels])
        else:
            entry["labels"] = batch_labels
        train_list.append([name, write_pickle(folder / name, entry, protocol)])
        # expected pixels, computed independently: plane c, row y, column x at c*1024 + y*32 + x
        for row in data:
            image = np.empty((32, 32, 3), np.uint8)
            for c in range(3):
                image[:, :, c] = row[c * 1024:(c + 1) * 1024].reshape(32, 32)
            images.append(image)
        labels += batch_labels
    test_name = "test" if hundred else "test_batch"
    key = "fine_labels" if hundred else "labels"
    test_list = [[test_name, write_pickle(folder / test_name, {"data": np.zeros((2, 3072), np.uint8),
                                                               key: [1, 2]}, protocol)]]
    meta_name, meta_key = ("meta", "fine_label_names") if hundred else ("batches.meta", "label_names")
    class_names = [f"class{i}" for i in range(100 if hundred else 10)]
    meta = {"filename": meta_name, "key": meta_key, "md5": write_pickle(folder / meta_name, {meta_key: class_names})}
    base = datasets.CIFAR100 if hundred else datasets.CIFAR10
    fake = type("FakeCIFAR", (base,), {"train_list": train_list, "test_list": test_list, "meta": meta})
    return fake, np.stack(images), labels, class_names


@pytest.mark.parametrize("hundred", [False, True])
@pytest.mark.parametrize("protocol", [2, 5])
def test_cifar_reads_the_batches_as_torchvision(tmp_path, hundred, protocol):
    fake, images, labels, class_names = fake_cifar(tmp_path, hundred, protocol)
    train = fake(tmp_path)
    assert train.data.shape == images.shape and train.data.dtype == np.uint8
    np.testing.assert_array_equal(train.data, images)
    assert train.targets == labels and train.classes == class_names
    assert train.class_to_idx["class3"] == 3
    image, label = train[1]
    assert image.mode == "RGB" and image.size == (32, 32) and label == labels[1]
    np.testing.assert_array_equal(np.asarray(image), images[1])
    test = fake(tmp_path, train=False)
    assert len(test) == 2 and test.targets == [1, 2]


def test_cifar_missing_or_corrupt_files_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"cifar-10-batches-py.data_batch_1 not found.*download=True"):
        datasets.CIFAR10(tmp_path)
    fake_cifar(tmp_path)
    with pytest.raises(ChecksumError, match=r"data_batch_1 is corrupt.*expected c99cafc152244af753f735de768cd75f"):
        datasets.CIFAR10(tmp_path)  # the real class checks torchvision's md5s


def test_safe_pickle_refuses_globals_and_keeps_arrays():
    class Boom:
        def __reduce__(self):
            return (os.system, ("echo never",))
    with pytest.raises(UnsafePickleError, match="system"):
        load_data_pickle(pickle.dumps({"data": Boom()}), "evil")
    with pytest.raises(UnsafePickleError, match="dtype"):
        load_data_pickle(pickle.dumps({"data": np.array(["text"])}), "strings")
    with pytest.raises(UnsafePickleError, match="not a readable data pickle"):
        load_data_pickle(b"\x80\x02}q\x00", "truncated")
    value = {"x": np.arange(6, dtype=">i4").reshape(2, 3), "y": (1, "a", b"b", 2.5)}
    for protocol in range(6):
        loaded = load_data_pickle(pickle.dumps(value, protocol=protocol), "ok")
        np.testing.assert_array_equal(loaded["x"], value["x"])
        assert loaded["y"] == value["y"]


def fake_stl10(root: Path, n_train=4, n_test=3, n_unlabeled=2):
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    arrays = {}
    checks = {}
    for name, n in (("train_X.bin", n_train), ("test_X.bin", n_test), ("unlabeled_X.bin", n_unlabeled)):
        raw = RNG.integers(0, 256, n * 3 * 96 * 96, dtype=np.uint8)
        (folder / name).write_bytes(raw.tobytes())
        arrays[name] = raw
    for name, n in (("train_y.bin", n_train), ("test_y.bin", n_test)):
        labels = RNG.integers(1, 11, n, dtype=np.uint8)
        (folder / name).write_bytes(labels.tobytes())
        arrays[name] = labels
    for name in arrays:
        checks[name] = md5(folder / name)
    (folder / "class_names.txt").write_text("\n".join(f"c{i}" for i in range(10)) + "\n")
    (folder / "fold_indices.txt").write_text("3 0\n1 2\n" * 5)
    fake = type("FakeSTL10", (datasets.STL10,), {
        "train_list": [[n, checks[n]] for n in ("train_X.bin", "train_y.bin", "unlabeled_X.bin")],
        "test_list": [[n, checks[n]] for n in ("test_X.bin", "test_y.bin")]})
    return fake, arrays


def stl_pixel(raw, index, row, column, channel):
    """STL-10's files are column-major: image i, channel c, column x, row y at i*27648 + c*9216 + x*96 + y."""
    return raw[index * 27648 + channel * 9216 + column * 96 + row]


def test_stl10_splits_folds_and_layout(tmp_path):
    fake, arrays = fake_stl10(tmp_path)
    train = fake(tmp_path)
    assert train.data.shape == (4, 3, 96, 96) and train.classes[2] == "c2"
    assert train.labels.tolist() == (arrays["train_y.bin"].astype(int) - 1).tolist()
    image, label = train[2]
    pixels = np.asarray(image)
    for row, column, channel in ((0, 0, 0), (5, 70, 1), (95, 3, 2)):
        assert pixels[row, column, channel] == stl_pixel(arrays["train_X.bin"], 2, row, column, channel)
    assert label == arrays["train_y.bin"][2] - 1
    fold = fake(tmp_path, folds=0)
    np.testing.assert_array_equal(fold.data, train.data[[3, 0]])
    both = fake(tmp_path, split="train+unlabeled")
    assert len(both) == 6 and both.labels[-2:].tolist() == [-1, -1]
    assert fake(tmp_path, split="unlabeled")[0][1] == -1
    assert len(fake(tmp_path, split="test")) == 3
    with pytest.raises(ValueError, match="split"):
        fake(tmp_path, split="valid")
    with pytest.raises(ValueError, match="folds"):
        fake(tmp_path, folds=10)
    with pytest.raises(ChecksumError, match="train_y.bin is corrupt"):
        datasets.STL10(tmp_path)


def test_svhn_needs_scipy_and_says_so(tmp_path):
    try:
        import scipy.io
    except ImportError:
        with pytest.raises(ImportError, match="scipy.io.loadmat.*not a dependency of shenjing.*pip install scipy"):
            datasets.SVHN(tmp_path)
        return
    X = RNG.integers(0, 256, (32, 32, 3, 4), dtype=np.uint8)
    y = np.array([[10], [1], [2], [10]], dtype=np.uint8)
    scipy.io.savemat(tmp_path / "test_32x32.mat", {"X": X, "y": y})
    fake = type("FakeSVHN", (datasets.SVHN,), {"split_list": {"test": ["", "test_32x32.mat",
                                                                     md5(tmp_path / "test_32x32.mat")]}})
    svhn = fake(tmp_path, split="test")
    assert svhn.data.shape == (4, 3, 32, 32) and svhn.labels.tolist() == [0, 1, 2, 0]
    np.testing.assert_array_equal(np.asarray(svhn[1][0]), X[:, :, :, 1])


def idx(array: np.ndarray, type_code: int) -> bytes:
    big = array.astype(array.dtype.newbyteorder(">"))
    return struct.pack(">BBBB", 0, 0, type_code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + \
        big.tobytes()


def test_emnist_reads_its_split_files(tmp_path):
    raw = tmp_path / "EMNIST" / "raw"
    raw.mkdir(parents=True)
    images = RNG.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([1, 26, 3, 4, 5], dtype=np.uint8)
    (raw / "emnist-letters-train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx(images, 0x08)))
    (raw / "emnist-letters-train-labels-idx1-ubyte").write_bytes(idx(labels, 0x08))
    emnist = datasets.EMNIST(tmp_path, split="letters")
    assert len(emnist) == 5 and emnist.classes[26] == "z" and len(emnist.classes) == 27
    np.testing.assert_array_equal(emnist.data.numpy(), images)
    image, label = emnist[1]
    assert label == 26 and np.asarray(image).tolist() == images[1].tolist()
    assert len(datasets.EMNIST.classes_split_dict["byclass"]) == 62
    with pytest.raises(FileNotFoundError, match="emnist-letters-test-images-idx3-ubyte"):
        datasets.EMNIST(tmp_path, split="letters", train=False)
    with pytest.raises(ValueError, match="split"):
        datasets.EMNIST(tmp_path, split="greek")


@pytest.mark.parametrize("what,compression", [("train", ""), ("test10k", ".gz"), ("test50k", ""), ("nist", ".xz")])
def test_qmnist_subsets_and_compat(tmp_path, what, compression):
    raw = tmp_path / "QMNIST" / "raw"
    raw.mkdir(parents=True)
    n = 10003 if what.startswith("test") else 4
    images = RNG.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = RNG.integers(0, 100000, (n, 8)).astype(np.int32)
    labels[:, 0] %= 10
    stem = {"train": "qmnist-train", "test10k": "qmnist-test", "test50k": "qmnist-test", "nist": "xnist"}[what]
    pack = {"": lambda b: b, ".gz": gzip.compress, ".xz": lzma.compress}[compression]
    (raw / f"{stem}-images-idx3-ubyte{compression}").write_bytes(pack(idx(images, 0x08)))
    (raw / f"{stem}-labels-idx2-int{compression}").write_bytes(pack(idx(labels, 0x0C)))
    qmnist = datasets.QMNIST(tmp_path, what=what)
    part = slice(0, 10000) if what == "test10k" else slice(10000, None) if what == "test50k" else slice(None)
    np.testing.assert_array_equal(qmnist.targets.numpy(), labels[part].astype(np.int64))
    np.testing.assert_array_equal(qmnist.data.numpy(), images[part])
    assert qmnist[0][1] == int(labels[part][0, 0])
    full = datasets.QMNIST(tmp_path, what=what, compat=False)[0][1]
    assert full.tolist() == labels[part][0].tolist()
    with pytest.raises(ValueError, match="what"):
        datasets.QMNIST(tmp_path, what="valid")


def test_download_true_unpacks_a_verified_local_archive(tmp_path):
    import tarfile
    import zipfile

    staging = tmp_path / "staging"
    fake, images, labels, _ = fake_cifar(staging)
    archive = tmp_path / "root" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as bundle:
        bundle.add(staging / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    local = type("LocalCIFAR", (fake,), {"tgz_md5": md5(archive), "url": "http://invalid.example/never-fetched"})
    train = local(tmp_path / "root", download=True)  # the archive is there and intact: unpacked, not fetched
    np.testing.assert_array_equal(train.data, images)
    from shenjing.vision.datasets._archive import download_and_extract
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as bundle:
        bundle.writestr("../outside.txt", "x")
    with pytest.raises(ChecksumError, match="outside"):
        download_and_extract(["http://invalid.example/"], evil, md5(evil), tmp_path / "into")
    assert not (tmp_path / "outside.txt").exists()


def test_emnist_download_unpacks_nist_zip_layout(tmp_path):
    import zipfile

    raw = tmp_path / "LocalEMNIST" / "raw"  # torchvision's raw folder: root/<class name>/raw
    raw.mkdir(parents=True)
    images = RNG.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    labels = np.array([0, 9, 4], dtype=np.uint8)
    with zipfile.ZipFile(raw / "gzip.zip", "w") as bundle:  # NIST's archive: gzip/<name>.gz
        bundle.writestr("gzip/emnist-digits-test-images-idx3-ubyte.gz", gzip.compress(idx(images, 0x08)))
        bundle.writestr("gzip/emnist-digits-test-labels-idx1-ubyte.gz", gzip.compress(idx(labels, 0x08)))
    local = type("LocalEMNIST", (datasets.EMNIST,), {"md5": md5(raw / "gzip.zip"), "url": "http://invalid.example/"})
    emnist = local(tmp_path, split="digits", train=False, download=True)
    assert emnist.targets.tolist() == [0, 9, 4] and sorted(p.name for p in raw.iterdir()) == [
        "emnist-digits-test-images-idx3-ubyte.gz", "emnist-digits-test-labels-idx1-ubyte.gz", "gzip.zip"]


def python2_cifar_pickle(data: np.ndarray, labels: list[int]) -> bytes:
    """The bytes Python 2's cPickle (protocol 2) writes for {'data': uint8 array, 'labels': [...]}, as in the
    authors' CIFAR files: Python 2 strs are BINSTRINGs, the array is numpy.core.multiarray._reconstruct + BUILD."""
    def string(text: bytes) -> bytes:
        return b"U" + bytes([len(text)]) + text if len(text) < 256 else b"T" + struct.pack("<I", len(text)) + text
    def small(n: int) -> bytes:
        return b"K" + bytes([n]) if 0 <= n < 256 else b"J" + struct.pack("<i", n)
    array = (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + small(0) + b"\x85" + string(b"b")
             + b"\x87R(" + small(1) + small(data.shape[0]) + small(data.shape[1]) + b"\x86"
             + b"cnumpy\ndtype\n" + string(b"u1") + small(0) + small(1) + b"\x87R("
             + small(3) + string(b"|") + b"NNN" + small(-1) + small(-1) + small(0) + b"tb"
             + b"\x89" + string(data.tobytes()) + b"tb")
    items = b"(" + b"".join(small(label) for label in labels) + b"e"
    return b"\x80\x02}(" + string(b"data") + array + string(b"labels") + b"]" + items + b"u."


def test_python2_written_cifar_batches_are_read():
    data = RNG.integers(0, 256, (2, 3072), dtype=np.uint8)
    raw = python2_cifar_pickle(data, [3, 7])
    reference = pickle.loads(raw, encoding="latin1")  # the hand-made bytes are what NumPy itself reads
    assert reference["labels"] == [3, 7] and np.array_equal(reference["data"], data)
    loaded = load_data_pickle(raw, "data_batch_1")
    np.testing.assert_array_equal(loaded["data"], data)
    assert loaded["labels"] == [3, 7]
