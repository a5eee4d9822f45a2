"""What PLOTLightningCLI adds to LightningCLI: default loggers, default checkpointing, the tokenizer link."""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from plot_lightning.cli.lightning_cli import DEFAULT_CHECKPOINT_EVERY_N_STEPS, PLOTLightningCLI
from plot_lightning.tracking.background import BackgroundMLflowLogger

TINY = Path(__file__).resolve().parents[3] / "configs" / "tiny.yaml"


def _cli(tmp_path, *extra: str) -> PLOTLightningCLI:
    args = ["--config", str(TINY), "--trainer.default_root_dir", str(tmp_path), *extra]
    return PLOTLightningCLI(args=args, run=False)


def test_csv_only_when_mlflow_is_off(tmp_path) -> None:
    cli = _cli(tmp_path, "--tracking.mlflow", "false")
    assert [type(logger) for logger in cli.trainer.loggers] == [CSVLogger]
    assert cli.trainer.log_dir == str(tmp_path.resolve() / "lightning_logs" / "version_0")


def test_an_explicit_logger_setting_is_respected(tmp_path) -> None:
    assert _cli(tmp_path, "--trainer.logger", "false").trainer.loggers == []
    cli = _cli(
        tmp_path, "--trainer.logger", "lightning.pytorch.loggers.CSVLogger", "--trainer.logger.save_dir", "x"
    )
    assert [type(logger) for logger in cli.trainer.loggers] == [CSVLogger]
    assert not any(isinstance(logger, BackgroundMLflowLogger) for logger in cli.trainer.loggers)


def test_default_checkpointing_when_the_config_lists_none(tmp_path) -> None:
    cli = _cli(tmp_path, "--tracking.mlflow", "false", "--trainer.callbacks", "[]")
    (checkpoint,) = [c for c in cli.trainer.callbacks if isinstance(c, ModelCheckpoint)]
    assert checkpoint.save_last is True
    assert checkpoint._every_n_train_steps == DEFAULT_CHECKPOINT_EVERY_N_STEPS


def test_the_config_checkpoint_is_not_duplicated(tmp_path) -> None:
    cli = _cli(tmp_path, "--tracking.mlflow", "false")
    checkpoints = [c for c in cli.trainer.callbacks if isinstance(c, ModelCheckpoint)]
    assert len(checkpoints) == 1 and checkpoints[0]._every_n_train_steps == 2  # tiny.yaml's


def test_data_tokenizer_follows_the_model(tmp_path, tiny_model_dir) -> None:
    cli = _cli(tmp_path, "--tracking.mlflow", "false", "--model.model", str(tiny_model_dir))
    assert cli.datamodule.tokenizer_spec == str(tiny_model_dir) == cli.model.hparams.model


def test_every_run_gets_one_overhead_monitor(tmp_path) -> None:
    from plot_lightning.overhead import OverheadMonitor

    cli = _cli(tmp_path, "--tracking.mlflow", "false")
    assert len([c for c in cli.trainer.callbacks if isinstance(c, OverheadMonitor)]) == 1
    assert cli.model.hparams.fused_head is None  # the fused head wherever it is exact (docs/benchmarks.md)


def test_checkpoints_are_atomic_guarded_and_progress_is_printed(tmp_path) -> None:
    from plot_lightning.checkpointing.checkpoint_io import AtomicCheckpointIO
    from plot_lightning.checkpointing.nonfinite import NonFiniteGuard
    from plot_lightning.checkpointing.rng_state import RNGStateCallback
    from plot_lightning.cli.progress_lines import ProgressLines

    cli = _cli(tmp_path, "--tracking.mlflow", "false", "--model.on_nonfinite_grad", "skip")
    assert isinstance(cli.trainer.strategy.checkpoint_io, AtomicCheckpointIO)
    assert sum(isinstance(c, ProgressLines) for c in cli.trainer.callbacks) == 1
    guards = [c for c in cli.model.configure_callbacks() if isinstance(c, NonFiniteGuard)]
    assert [guard.action for guard in guards] == ["skip"]
    assert any(isinstance(c, RNGStateCallback) for c in cli.model.configure_callbacks())
