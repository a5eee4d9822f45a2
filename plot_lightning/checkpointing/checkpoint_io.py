"""``AtomicCheckpointIO``: Lightning's checkpoint plugin, writing every ``.ckpt`` atomically in its own folder.

Lightning's default ``TorchCheckpointIO`` writes through an fsspec transaction whose temporary file lives in
``$TMPDIR``; when that is another filesystem (a tmpfs ``/tmp``), the final move is a copy and a kill during it
leaves a truncated ``last.ckpt`` plus an orphan in ``$TMPDIR``. This plugin writes with
:func:`plot_lightning.checkpointing.atomic_write.atomic_torch_save` instead, and a checkpoint that cannot be
read raises :class:`CorruptCheckpointError` naming the file. The CLI installs it (``trainer.plugins``); in
your own Trainer: ``Trainer(plugins=[AtomicCheckpointIO()])``.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from typing_extensions import override

from plot_lightning.checkpointing.atomic_write import atomic_torch_save


class CorruptCheckpointError(RuntimeError):
    """A checkpoint file that is empty, truncated or not a torch checkpoint."""


def check_readable(path: str | os.PathLike) -> Path:
    """``path`` as a Path; FileNotFoundError when missing, CorruptCheckpointError when it is an empty file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"checkpoint {path} does not exist: neither a .ckpt file nor a sharded folder"
        )
    if path.is_file() and path.stat().st_size == 0:
        raise CorruptCheckpointError(f"checkpoint {path} is empty (0 bytes): it was never completely written")
    return path


def read_checkpoint(path: str | os.PathLike, load: Callable[[Path], Any] | None = None) -> Any:
    """``load(path)`` (default ``torch.load`` on CPU); an empty, truncated or foreign file raises naming it."""
    path = check_readable(path)
    load = load or (lambda file: torch.load(file, map_location="cpu", weights_only=False))
    try:
        return load(path)
    except (RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as error:  # bad zip: RuntimeError
        size = path.stat().st_size if path.is_file() else "folder"
        raise CorruptCheckpointError(
            f"checkpoint {path} ({size} bytes) is truncated or not a torch checkpoint: {error}"
        ) from error


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves checkpoints atomically next to their target; loads them with errors that name the file."""

    @override
    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options, got {storage_options!r}")
        atomic_torch_save(checkpoint, path)

    @override
    def load_checkpoint(
        self, path: Any, map_location: Any = lambda storage, loc: storage, weights_only: bool | None = None
    ) -> Any:
        parent = super()
        return read_checkpoint(path, lambda file: parent.load_checkpoint(file, map_location, weights_only))
