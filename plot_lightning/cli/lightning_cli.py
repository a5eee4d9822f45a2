"""The LightningCLI behind ``plot-lightning fit|validate``: PLOTModule + PreferenceDataModule.

What it adds to a plain ``LightningCLI``:

- ``--tracking.*`` (``TrackingSettings``): unless ``trainer.logger`` is set, the run logs to CSV (first, so
  ``config.yaml`` and checkpoints live in its version folder) and to MLflow from a background thread; the
  resolved config goes to both, and ``fit --ckpt_path <version_N>/checkpoints/x.ckpt`` continues that MLflow run.
- ``model.model`` is linked to ``data.tokenizer``: the data is always tokenized with the policy's tokenizer.
- When the config lists none: a ``ModelCheckpoint`` (``last.ckpt`` plus periodic ones), ``AtomicCheckpointIO``,
  ``ProgressLines`` and ``OverheadMonitor``; torch threads per process (:mod:`plot_lightning.threads`).
- A value that a constructor refuses with ``ValueError`` raises :class:`SettingsError`; ``plot-lightning``
  prints it as one line and exits with status 2.
"""

from __future__ import annotations

import os
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback

from plot_lightning.checkpointing.checkpoint_io import AtomicCheckpointIO
from plot_lightning.cli.loss_errors import LossAwareParser
from plot_lightning.cli.progress_lines import ProgressLines
from plot_lightning.library_notices import silence_library_notices
from plot_lightning.overhead import OverheadMonitor
from plot_lightning.threads import configure_threads
from plot_lightning.tracking import TrackingSettings, build_loggers, log_run_config

DEFAULT_CHECKPOINT_EVERY_N_STEPS = 100
PROGRESS_EVERY_N_STEPS = 10
TRAINING_DESCRIPTION = (
    "Train a policy with PLOT and other preference losses (PyTorch Lightning). Training: "
    "'plot-lightning fit --config configs/dpo_plot.yaml [--trainer.max_steps 100 ...]'; also 'validate'. "
    "Other commands (each has --help): 'export' (checkpoint -> Hugging Face folder), 'prepare-model' "
    "(convert SmolLM2-135M-Instruct once, offline), 'demo' (prepare, train, export, evaluate), "
    "'tracking sync' (a run's CSV metrics -> MLflow)."
)


class SettingsError(ValueError):
    """A setting that the class it configures refused (the constructor's ``ValueError``, message kept)."""


class TrackedSaveConfigCallback(SaveConfigCallback):
    """Saves ``config.yaml`` to the log folder and attaches it (artifact, ``config.*`` params) to MLflow."""

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        config_yaml = self.parser.dump(self.config, skip_none=False)
        # Not trainer.log_dir: it broadcasts, and this hook runs on rank 0 only (a collective here deadlocks).
        log_dir = trainer.loggers[0].log_dir if trainer.loggers else trainer.default_root_dir
        log_run_config(trainer.loggers, config_yaml, self.config.as_dict(), log_dir=str(log_dir))


class PLOTLightningCLI(LightningCLI):
    """``LightningCLI(PLOTModule, PreferenceDataModule)`` with tracking, config logging and checkpoints."""

    def __init__(self, args: list[str] | None = None, run: bool = True, **kwargs: Any) -> None:
        from plot_lightning.data import PreferenceDataModule
        from plot_lightning.module import PLOTModule

        silence_library_notices()  # before the Trainer logs Lightning's litlogger tip
        kwargs.setdefault("save_config_callback", TrackedSaveConfigCallback)
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        # The module configures its own optimizer (model.optimizer / model.lr_scheduler): no top-level one.
        kwargs.setdefault("auto_configure_optimizers", False)
        kwargs.setdefault("parser_kwargs", {"prog": "plot-lightning", "description": TRAINING_DESCRIPTION})
        kwargs.setdefault("parser_class", LossAwareParser)
        super().__init__(PLOTModule, PreferenceDataModule, args=args, run=run, **kwargs)

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        """``fit`` and ``validate`` (the module has no test/predict step)."""
        return {
            name: args for name, args in LightningCLI.subcommands().items() if name in ("fit", "validate")
        }

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_class_arguments(TrackingSettings, "tracking")
        parser.link_arguments("model.model", "data.tokenizer")

    def instantiate_classes(self) -> None:
        """Lightning's, with a ``ValueError`` of a constructor (a refused setting) raised as SettingsError."""
        from plot_lightning.data.errors import DataError
        from plot_lightning.losses.options import LossOptionError

        try:
            super().instantiate_classes()
        except (DataError, LossOptionError, SettingsError):
            raise  # already one message each
        except ValueError as error:
            # jsonargparse passes it through unchanged: the message is the constructor's
            raise SettingsError(str(error)) from error

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        trainer_config = self._get(self.config_init, "trainer", default={})
        devices = trainer_config.get("devices")
        configure_threads(processes=devices if isinstance(devices, int) and devices > 0 else 1)
        if trainer_config.get("logger") is None and "logger" not in kwargs:
            settings = self._tracking_settings()
            root_dir = trainer_config.get("default_root_dir") or os.getcwd()
            resume_from = self._get(self.config, "ckpt_path", default=None)
            kwargs["logger"] = build_loggers(settings, root_dir, resume_from=resume_from)
        callbacks = [*(trainer_config.get("callbacks") or []), ProgressLines(PROGRESS_EVERY_N_STEPS)]
        if (
            not any(isinstance(callback, ModelCheckpoint) for callback in callbacks)
            and trainer_config.get("enable_checkpointing", True) is not False
        ):
            checkpoints = ModelCheckpoint(
                save_last=True, every_n_train_steps=DEFAULT_CHECKPOINT_EVERY_N_STEPS
            )
            callbacks = [*callbacks, checkpoints]
        if not any(isinstance(callback, OverheadMonitor) for callback in callbacks):
            callbacks = [*callbacks, OverheadMonitor()]
        kwargs["callbacks"] = callbacks
        if not trainer_config.get("plugins") and "plugins" not in kwargs:
            kwargs["plugins"] = [AtomicCheckpointIO()]  # crash-safe .ckpt files, errors naming a bad one
        return super().instantiate_trainer(**kwargs)

    def _tracking_settings(self) -> TrackingSettings:
        settings = self._get(self.config_init, "tracking")
        if isinstance(settings, TrackingSettings):
            return settings
        return TrackingSettings(**dict(settings or {}))
