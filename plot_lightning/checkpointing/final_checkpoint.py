"""``FinalCheckpoint``: however a run ends, ``last.ckpt`` holds the final weights (what ``export`` reads).

Lightning's ``ModelCheckpoint(save_last=True, every_n_train_steps=N)`` refreshes ``last.ckpt`` only together
with a periodic checkpoint: a run ending between two of them (``max_steps`` not a multiple of N, ``max_epochs``,
early stopping) or stopped with Ctrl-C leaves a ``last.ckpt`` up to N - 1 steps old, silently. This callback
saves it once more when fitting ends or on Ctrl-C, unless it already holds the final step. It does not save
after other exceptions (the weights may be the cause), nor when Ctrl-C lands inside an optimizer update, nor on
Ctrl-C with several processes (a collective save could hang): it then says which ``last.ckpt`` is kept.
"""

from __future__ import annotations

import os

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from typing_extensions import override


class FinalCheckpoint(pl.Callback):
    """Saves the final weights to ``last.ckpt`` at the end of fitting (and on Ctrl-C) when it is older."""

    def __init__(self) -> None:
        # From on_before_optimizer_step (Lightning calls it after the closure's forward and backward, right
        # before the update) to the end of the optimizer's step(): the weights may be half-updated.
        self._updating = False
        self._hooks: list = []

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for optimizer in trainer.optimizers:
            self._hooks.append(optimizer.register_step_post_hook(self._update_done))

    @override
    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self._updating = True

    def _update_done(self, *_) -> None:
        self._updating = False

    @override
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._updating = False  # also after a step that a GradScaler skipped (no step(), so no post hook)

    @override
    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks.clear()

    @override
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # A ModelCheckpoint that never saved writes last.ckpt in its own on_train_end (run after this one).
        self._save_final(trainer, skip=lambda c: not getattr(c, "_last_checkpoint_saved", True))

    @override
    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if not isinstance(exception, KeyboardInterrupt) or trainer.state.fn != TrainerFn.FITTING:
            return
        kept = ", ".join(f"{c.last_model_path or 'none'}" for c in _last_savers(trainer))
        # With several processes each is interrupted at its own point: a collective save could hang.
        if trainer.world_size > 1:
            rank_zero_warn(
                f"interrupted with {trainer.world_size} processes: the last checkpoint ({kept}) is kept"
            )
        elif self._updating:
            rank_zero_warn(
                f"interrupted inside the optimizer update of step {trainer.global_step + 1}: the weights may be "
                f"half-updated, so they are not saved; the last checkpoint ({kept}) is kept"
            )
        else:
            self._save_final(trainer)

    def _save_final(self, trainer: pl.Trainer, skip=lambda callback: False) -> None:
        if trainer.sanity_checking or trainer.fast_dev_run:
            return
        step = trainer.global_step
        for callback in [c for c in _last_savers(trainer) if not skip(c)]:
            # The step of the callback's latest save; Lightning keeps it on the callback (no public accessor).
            if getattr(callback, "_last_global_step_saved", None) == step and callback.last_model_path:
                continue
            metrics = {**trainer.callback_metrics, "epoch": torch.tensor(trainer.current_epoch)}
            metrics["step"] = torch.tensor(step)
            path = callback.format_checkpoint_name(metrics, callback.CHECKPOINT_NAME_LAST)
            previous, callback.last_model_path = callback.last_model_path, path
            # save_last="link": write a file in the link's place, not through it into an older checkpoint.
            if trainer.is_global_zero and os.path.islink(path):
                os.remove(path)
            trainer.strategy.barrier("final_checkpoint")
            trainer.save_checkpoint(path, weights_only=callback.save_weights_only)
            if previous and previous != path:
                trainer.strategy.remove_checkpoint(previous)
            rank_zero_info(f"saved the final weights (step {step}) to {path}")


def _last_savers(trainer: pl.Trainer) -> list[ModelCheckpoint]:
    return [c for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint) and c.save_last]
