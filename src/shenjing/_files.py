"""File-system helpers for reading and writing user files safely.

- ``open_regular_file``: open a path for reading, refusing (instead of blocking on) a FIFO, socket or device.
- ``atomic_write``: write a file through a temporary file and a rename, so a crash never leaves half a file;
  it keeps the target's permissions, writes through symbolic links, and removes the temporary files that
  earlier saves killed mid-way left behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import signal
import socket
import stat
import threading
import zlib
from typing import IO, Any, Callable

__all__ = ["open_regular_file", "atomic_write", "temp_file_prefix"]

_KINDS = [(stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")]


def _kind_of(mode: int) -> str:
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return "not a regular file"


def open_regular_file(path: str | os.PathLike, what: str = "file",
                      error_type: Callable[[str], Exception] = OSError) -> IO[bytes]:
    """Open ``path`` for binary reading; ``error_type(message)`` if it is a FIFO, socket or device.

    The file is opened without blocking (``O_NONBLOCK``) and checked with ``fstat``, so a FIFO with no
    writer gives an error at once instead of hanging. A directory raises ``IsADirectoryError``; a missing
    path ``FileNotFoundError``, as ``open`` does.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    descriptor = os.open(path, flags)
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, f"cannot read {what}: it is a directory", os.fspath(path))
        if not stat.S_ISREG(mode):
            raise error_type(f"cannot read {what} '{os.fspath(path)}': it is {_kind_of(mode)}, not a regular "
                             f"file (reading it could block forever); copy the data to a regular file first")
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


# -- atomic writes -----------------------------------------------------------------------------------------

_TEMP_MARK = "shenjing-save"


def _host_tag() -> str:
    return f"{zlib.crc32(socket.gethostname().encode()):08x}"


def temp_file_prefix(target: str) -> str:
    """The name prefix of the temporary files that ``atomic_write`` uses for ``target`` (same directory).

    A temporary file is named ``.<target name>.shenjing-save.<host>.<pid>.<random>.tmp``: the host and the
    process id say whose it is, so a later save can tell an abandoned one from one still being written.
    """
    return f".{os.path.basename(target)}.{_TEMP_MARK}."


def _process_is_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but belongs to someone else, or we cannot tell: keep its file
    return True


def _remove_stale_temp_files(target: str) -> None:
    """Delete temporary files of ``target`` left by saves on this host whose process no longer exists."""
    directory = os.path.dirname(target) or "."
    prefix = temp_file_prefix(target) + _host_tag() + "."
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        parts = name[len(prefix):-len(".tmp")].split(".")
        if len(parts) != 2 or not parts[0].isdigit() or _process_is_alive(int(parts[0])):
            continue
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(directory: str) -> None:
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def _ctrl_c_deferred() -> Any:
    """Ctrl-C (SIGINT) during the block is held back and raised as KeyboardInterrupt after it, so that a save
    finishes whole (an interrupted write would leave its zip file half-closed). Only in the main thread, where
    Python's signal handlers run, and only while Python's own handler is installed; else the block runs as it is."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: received.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def atomic_write(path: str, write: Callable[[IO[bytes]], Any]) -> None:
    """Call ``write(stream)`` on a temporary file next to ``path``, fsync it, then rename it over ``path``.

    - A crash or kill at any moment leaves the old file or the new one, never half of one; a temporary file
      left by a killed save is removed by the next save of the same path (see ``temp_file_prefix``).
    - ``path`` a symbolic link: the file it points to is replaced (the link stays a link), as ``open(path,
      "wb")`` would write through it.
    - An existing file keeps its permission bits (a 0600 file stays 0600); a new file gets those a plain
      ``open()`` would give it (0666 minus the umask).
    - Ctrl-C during the save takes effect when it is done (``_ctrl_c_deferred``).
    """
    with _ctrl_c_deferred():
        _write_replacing(path, write)


def _write_replacing(path: str, write: Callable[[IO[bytes]], Any]) -> None:
    target = os.path.realpath(path)
    directory = os.path.dirname(target)
    _remove_stale_temp_files(target)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_current_umask()
    temp_path = os.path.join(directory, f"{temp_file_prefix(target)}{_host_tag()}.{os.getpid()}."
                                        f"{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_path, mode)
        os.replace(temp_path, target)
    except BaseException:
        try:
            os.unlink(temp_path)
        except OSError:
            pass
        raise
    _fsync_directory(directory)
