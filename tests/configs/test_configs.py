"""Every shipped training config parses with the CLI parser and instantiates model, data and trainer."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
EXPECTED = {
    "demo",
    "sft",
    "sft_plot",
    "dpo",
    "dpo_plot",
    "dpo_plot_sinkhorn",
    "lora",
    "fsdp",
    "fsdp2",
    "tiny",
}
CONFIGS = sorted(CONFIG_DIR.glob("*.yaml"))


def test_the_expected_configs_are_shipped() -> None:
    assert {path.stem for path in CONFIGS} == EXPECTED


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.stem)
def test_config_parses_and_instantiates(path: Path, tmp_path) -> None:
    from lightning.pytorch.callbacks import ModelCheckpoint

    from plot_lightning.cli.lightning_cli import PLOTLightningCLI
    from plot_lightning.data import PreferenceDataModule
    from plot_lightning.data.reading import resolve_source
    from plot_lightning.losses.registry import LOSSES
    from plot_lightning.module import PLOTModule

    args = ["--config", str(path), "--trainer.default_root_dir", str(tmp_path), "--tracking.mlflow", "false"]
    cli = PLOTLightningCLI(args=args, run=False)
    assert isinstance(cli.model, PLOTModule) and isinstance(cli.datamodule, PreferenceDataModule)
    hparams = cli.model.hparams
    assert set(hparams.losses) <= set(LOSSES) and len(hparams.losses) == len(hparams.weights)
    assert cli.datamodule.tokenizer_spec == hparams.model  # linked: the data uses the policy's tokenizer
    for source in [*cli.datamodule.train_files, *cli.datamodule.val_files]:
        assert Path(resolve_source(source)).is_file()
    assert any(isinstance(callback, ModelCheckpoint) for callback in cli.trainer.callbacks)
    assert cli.trainer.progress_bar_callback is not None


def test_strategy_configs_pick_the_fsdp_strategies(tmp_path) -> None:
    from lightning.pytorch.strategies import ModelParallelStrategy

    from plot_lightning.cli.lightning_cli import PLOTLightningCLI
    from plot_lightning.strategies.cpu_fsdp import CPUFSDPStrategy

    expected = {"fsdp": CPUFSDPStrategy, "fsdp2": ModelParallelStrategy}
    for name, strategy_class in expected.items():
        args = ["--config", str(CONFIG_DIR / f"{name}.yaml"), "--trainer.default_root_dir", str(tmp_path)]
        cli = PLOTLightningCLI(args=[*args, "--tracking.mlflow", "false"], run=False)
        assert isinstance(cli.trainer.strategy, strategy_class)
