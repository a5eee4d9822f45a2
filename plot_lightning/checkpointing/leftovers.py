"""``LeftoverPartials``: when fitting starts, complete temporary checkpoint files of killed writers are removed.

:func:`~plot_lightning.checkpointing.atomic_write.atomic_write` names its temporary file
``.<name>.<random>.partial`` just before renaming it over ``<name>``; a ``kill -9`` in between leaves it. This
callback removes such files from every ``ModelCheckpoint`` folder and from the resumed checkpoint's folder, and
warns with their names. Two runs must not share a checkpoint folder.
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_warn
from typing_extensions import override

from plot_lightning.checkpointing.atomic_write import remove_partials


class LeftoverPartials(pl.Callback):
    """Removes ``.<name>.<random>.partial`` leftovers from the checkpoint folders when fitting starts."""

    @override
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        folders = {
            Path(c.dirpath)
            for c in trainer.checkpoint_callbacks
            if isinstance(c, ModelCheckpoint) and c.dirpath
        }
        if trainer.ckpt_path:
            folders.add(Path(trainer.ckpt_path).parent)
        for folder in sorted(folders):
            removed = remove_partials(folder) if folder.is_dir() else []
            if removed:
                names = ", ".join(sorted(path.name for path in removed))
                rank_zero_warn(
                    f"removed {len(removed)} complete temporary checkpoint file(s) that a killed writer left in "
                    f"{folder}: {names}"
                )
