"""Fixtures shared by the single-process training tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def quiet_trainer():
    """``quiet_trainer(**overrides)``: a CPU Trainer without logger, checkpoints, progress bar, model summary
    or validation; keyword arguments override these defaults."""
    import lightning.pytorch as pl

    def build(**overrides) -> pl.Trainer:
        defaults = dict(
            accelerator="cpu",
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            limit_val_batches=0,
        )
        return pl.Trainer(**{**defaults, **overrides})

    return build


@pytest.fixture
def loss_recorder():
    """The callback class collecting the training loss of every step (``recorder.losses``)."""
    import lightning.pytorch as pl

    class LossRecorder(pl.Callback):
        def __init__(self) -> None:
            self.losses: list[float] = []

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            self.losses.append(float(outputs["loss"]))

    return LossRecorder
