"""``RNGStateCallback``: the random generators' states travel in the checkpoint, for exact resume.

Lightning saves the loop progress and a stateful loader's position, but not the global RNGs (torch, CUDA,
numpy, Python ``random``) that dropout and other random ops draw from. This callback stores them with every
checkpoint and restores them right before the first training batch after a resume, the same point of the
computation where the uninterrupted run saved them. The data order does not depend on them: the datamodule's
shuffling has its own generator, saved with the loader's state (``torchdata`` ``StatefulDataLoader``).
"""

from __future__ import annotations

import random
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from typing_extensions import override


def collect_rng_states() -> dict[str, Any]:
    """The global RNG states as tensors and plain Python values (loadable with ``weights_only=True``)."""
    version, python_state, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "torch.cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": [version, list(python_state), gauss],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached],
    }


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore what :func:`collect_rng_states` returned."""
    torch.set_rng_state(states["torch"])
    if states["torch.cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["torch.cuda"])
    version, python_state, gauss = states["python"]
    random.setstate((version, tuple(python_state), gauss))
    kind, keys, position, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached))


class RNGStateCallback(pl.Callback):
    """Saves the global RNG states in every checkpoint; restores them before the first batch of a resume."""

    def __init__(self) -> None:
        self._to_restore: dict[str, Any] | None = None

    @property
    @override
    def state_key(self) -> str:
        return "RNGStateCallback"

    @override
    def state_dict(self) -> dict[str, Any]:
        return {"rng": collect_rng_states()}

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._to_restore = state_dict.get("rng")

    @override
    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx
    ) -> None:
        if self._to_restore is not None:
            set_rng_states(self._to_restore)
            self._to_restore = None
