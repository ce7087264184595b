"""Checking a dataset's files against torchvision's checksums, and fetching and unpacking its archive."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path
from typing import Sequence

from shenjing.vision.datasets._download import ChecksumError, download_url, file_checksum

__all__ = ["check_file", "download_and_extract"]


def check_file(path: Path, md5: str | None, dataset: str, fix: str) -> None:
    """Raise a clear error if ``path`` is missing (``FileNotFoundError``) or its MD5 differs (``ChecksumError``);
    both name the file and say how to get a good copy (``fix``)."""
    if not path.is_file():
        raise FileNotFoundError(f"{dataset}: {path} not found. {fix}")
    if md5 is not None:
        actual = file_checksum(path, "md5")
        if actual != md5:
            raise ChecksumError(f"{dataset}: {path} is corrupt or not the published file (md5 {actual}, expected "
                                f"{md5}). Delete it, then {fix[0].lower()}{fix[1:]}")


def download_and_extract(urls: Sequence[str], archive: Path, md5: str, into: Path) -> None:
    """Fetch ``archive`` (verified by ``md5``) unless it is there and intact, and unpack it into ``into``
    (tar files with tarfile's "data" filter; zip members only below ``into``)."""
    if not (archive.is_file() and file_checksum(archive, "md5") == md5):
        download_url(urls, archive, md5)
    into.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.namelist():
                target = (into / member).resolve()
                if not target.is_relative_to(into.resolve()):
                    raise ChecksumError(f"{archive}: member {member!r} would be written outside {into}")
            bundle.extractall(into)
    else:
        with tarfile.open(archive) as bundle:
            if hasattr(tarfile, "data_filter"):
                bundle.extractall(into, filter="data")
                return
            for member in bundle.getmembers():  # Pythons before 3.10.12 / 3.11.4: the same checks by hand
                target = (into / member.name).resolve()
                if not target.is_relative_to(into.resolve()) or not (member.isfile() or member.isdir()):
                    raise ChecksumError(f"{archive}: member {member.name!r} is a link or would be written outside "
                                        f"{into}")
            bundle.extractall(into)
