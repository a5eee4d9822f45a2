"""Write a file so that a kill at any moment leaves either the old complete file or the new one.

The bytes go to a file in the *target's own folder* (never ``$TMPDIR``: a rename across filesystems is a copy,
and a kill during that copy truncates the target), are ``fsync``ed, then ``os.replace`` swaps them in and the
folder is ``fsync``ed. On Linux the temporary file is unnamed (``O_TMPFILE``) until its last byte is written,
so a kill mid-write leaves nothing; elsewhere it is a hidden ``.<name>.<random>.partial`` file from the start.
Leftovers are removed by the next write of the same target and by ``LeftoverPartials`` when training starts.
"""

from __future__ import annotations

import ctypes
import errno
import glob
import os
import re
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch

PARTIAL_SUFFIX = ".partial"
_PARTIAL_NAME = re.compile(rf"\..+\.[0-9a-f]{{8}}{re.escape(PARTIAL_SUFFIX)}")  # what _partial_name makes


def _partial_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")


def remove_partials(folder: Path, name: str | None = None) -> list[Path]:
    """Delete leftovers ``.<name>.<random>.partial`` of killed writers in ``folder`` (every target's when
    ``name`` is None); return what was removed."""
    removed = []
    for leftover in folder.glob(f".{'*' if name is None else glob.escape(name)}.*{PARTIAL_SUFFIX}"):
        if _PARTIAL_NAME.fullmatch(leftover.name) and leftover.is_file():
            leftover.unlink(missing_ok=True)
            removed.append(leftover)
    return removed


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


_AT_FDCWD, _AT_SYMLINK_FOLLOW = -100, 0x400


def _link_unnamed(descriptor: int, name: Path) -> None:
    """Give an ``O_TMPFILE`` file a name. ``os.link`` cannot: it never passes ``AT_SYMLINK_FOLLOW``, which
    ``linkat`` needs to link a ``/proc/self/fd`` entry, so call libc's ``linkat`` directly."""
    source = f"/proc/self/fd/{descriptor}".encode()
    if _LIBC.linkat(_AT_FDCWD, source, _AT_FDCWD, os.fsencode(name), _AT_SYMLINK_FOLLOW) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error), str(name))


def _load_libc():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc if hasattr(libc, "linkat") and Path("/proc/self/fd").is_dir() else None
    except OSError:
        return None


_LIBC = _load_libc() if sys.platform.startswith("linux") else None


def _open_unnamed(folder: Path) -> int | None:
    """A descriptor of an unnamed file in ``folder`` (Linux ``O_TMPFILE``), or None where unsupported."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or _LIBC is None:
        return None
    try:
        return os.open(folder, flag | os.O_WRONLY, 0o644)
    except OSError:  # e.g. a filesystem without O_TMPFILE support (NFS, some FUSE)
        return None


class CheckpointWriteError(OSError):
    """A file that could not be written (disk full, quota, file too large, I/O error); names the file."""


_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class _RecordingHandle:
    """The file handle, remembering the ``OSError`` of a failed ``write``: torch's zip writer replaces it with
    ``RuntimeError: unexpected pos ...``, which names neither the file nor the cause."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle, self.error = handle, None

    def write(self, data) -> int:
        try:
            return self._handle.write(data)
        except OSError as error:
            self.error = error
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def _write_error(target: Path, cause: OSError, existed: bool) -> CheckpointWriteError:
    kept = f"the previous {target.name} is kept unchanged" if existed else f"no {target.name} was written"
    reason = "the disk is full" if cause.errno in _FULL else "the write failed"
    return CheckpointWriteError(cause.errno, f"could not write {target}: {reason} ({cause.strerror}); {kept}")


def atomic_write(target: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> None:
    """Call ``write(handle)`` on a fresh file and atomically put it at ``target`` (old or new, never partial).

    An ``OSError`` while writing (disk full, ...) raises :class:`CheckpointWriteError` naming ``target``."""
    target = Path(target)
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    remove_partials(folder, target.name)
    partial = _partial_name(target)
    descriptor = _open_unnamed(folder)
    named = descriptor is None
    if named:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    recorder = None
    try:
        with os.fdopen(descriptor, "wb", closefd=False) as handle:
            recorder = _RecordingHandle(handle)
            write(recorder)
            handle.flush()
            os.fsync(handle.fileno())
        if not named:  # give the finished unnamed file a name: only now can a kill leave a (complete) partial
            _link_unnamed(descriptor, partial)
        os.replace(partial, target)
    except BaseException as error:
        partial.unlink(missing_ok=True)
        cause = error if isinstance(error, OSError) else getattr(recorder, "error", None)
        if (
            isinstance(cause, OSError)
            and cause.errno is not None
            and not isinstance(cause, CheckpointWriteError)
        ):
            raise _write_error(target, cause, target.exists()) from error
        raise
    finally:
        os.close(descriptor)
    _fsync_folder(folder)


def atomic_torch_save(obj: Any, target: str | os.PathLike) -> None:
    """``torch.save(obj, target)`` through :func:`atomic_write`."""
    atomic_write(target, lambda handle: torch.save(obj, handle))
