"""plot-lightning: preference learning via optimal transport (PLOT) for PyTorch Lightning.

``PLOTModule`` (the LightningModule) and ``PreferenceDataModule`` are exported lazily, so that importing the
math (``plot_lightning.losses``, ``plot_lightning.ot``) does not pay for importing Lightning (~10 s).
Command line: ``plot-lightning --help`` (or ``python -m plot_lightning --help``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["PLOTModule", "PreferenceDataModule", "__version__"]

_LAZY = {
    "PLOTModule": "plot_lightning.module",
    "PreferenceDataModule": "plot_lightning.data",
}

if TYPE_CHECKING:
    from plot_lightning.data import PreferenceDataModule
    from plot_lightning.module import PLOTModule


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'plot_lightning' has no attribute {name!r}")
