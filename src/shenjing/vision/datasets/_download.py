"""Downloads that are verified and atomic: the file appears under its name only once its checksum matches.

Each mirror is tried in turn. The bytes stream into a hidden temporary file in the destination folder while
their MD5 (32 hex digits) or SHA-256 (64 hex digits) is computed; a complete, matching file is renamed into
place, anything else (network error, wrong checksum, Ctrl-C) removes the temporary file.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
from pathlib import Path
from typing import Any, Sequence
from urllib.request import Request, urlopen

__all__ = ["ChecksumError", "checksum_algorithm", "download_url", "file_checksum"]

USER_AGENT = "shenjing (https://pypi.org/project/shenjing/)"
_CHUNK = 1 << 16


class ChecksumError(ValueError):
    """Downloaded (or bundled) bytes whose checksum is not the expected one."""


def checksum_algorithm(checksum: str) -> str:
    """``"md5"`` for 32 hex digits, ``"sha256"`` for 64."""
    algorithms = {32: "md5", 64: "sha256"}
    if len(checksum) not in algorithms:
        raise ValueError(f"checksum {checksum!r} is neither an MD5 (32 hex digits) nor a SHA-256 (64 hex digits)")
    return algorithms[len(checksum)]


def file_checksum(path: str | Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _content_length(response: Any) -> int | None:
    headers = getattr(response, "headers", None)
    value = headers.get("Content-Length") if headers is not None else None
    return int(value) if value and str(value).isdigit() else None


def _fetch(url: str, destination: Path, checksum: str, timeout: float, progress: bool) -> None:
    """Stream ``url`` into a temporary file next to ``destination``; rename it only if the checksum matches."""
    from tqdm import tqdm  # the progress bar, imported only when something is downloaded

    algorithm = checksum_algorithm(checksum)
    digest = hashlib.new(algorithm)
    handle, temporary = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=destination.parent)
    try:
        request = Request(url, headers={"User-Agent": USER_AGENT})
        with os.fdopen(handle, "wb") as out, urlopen(request, timeout=timeout) as response:
            with tqdm(total=_content_length(response), unit="B", unit_scale=True, desc=destination.name,
                      disable=None if progress else True) as bar:
                chunk = response.read(_CHUNK)
                while chunk:
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
                    chunk = response.read(_CHUNK)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != checksum.lower():
            raise ChecksumError(f"{algorithm} checksum mismatch: got {digest.hexdigest()}, expected {checksum}")
        os.chmod(temporary, 0o644)
        os.replace(temporary, destination)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def download_url(urls: Sequence[str], destination: str | Path, checksum: str, *, timeout: float = 60.0,
                 progress: bool = True) -> Path:
    """Download the first of ``urls`` whose bytes match ``checksum`` (MD5 or SHA-256) to ``destination``.

    Raises RuntimeError naming every URL tried and why it failed. Never leaves a partial file behind.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        try:
            _fetch(url, destination, checksum, timeout, progress)
            return destination
        except (OSError, ValueError, http.client.HTTPException) as error:  # URLError and HTTPError are OSErrors
            failures.append(f"  {url}: {type(error).__name__}: {error}")
    raise RuntimeError(f"could not download {destination.name} into {destination.parent}:\n" + "\n".join(failures)
                       + f"\nCheck the network connection, or download the file by hand and put it at {destination}")
