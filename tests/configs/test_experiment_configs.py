"""Every shipped experiment config parses, builds its grid, and each cell's training config is a valid
LightningCLI config (instantiated with the tiny model on CPU so the test stays small)."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import yaml

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "experiments"
_REPO = Path(__file__).resolve().parents[2]
_ROOTS = [Path(os.environ["PLOT_DATA_ROOT"])] if os.environ.get("PLOT_DATA_ROOT") else []
_ROOTS += [_REPO.parent / "shared" / "data", _REPO.parent.parent / "shared" / "data"]  # clone, worktree
DATA_ROOT = next((root for root in _ROOTS if root.is_dir()), _ROOTS[0])
EXPECTED_CELLS = {"tiny": 2, "cpu_small": 36, "gpu_small": 64, "gpu_paper": 156}
ARITHMETIC_CELLS = {"arithmetic": 9, "arithmetic_gpu": 20, "arithmetic_tiny": 2}


def test_the_expected_experiment_configs_are_shipped() -> None:
    assert {path.stem for path in CONFIG_DIR.glob("*.yaml")} == set(EXPECTED_CELLS) | set(ARITHMETIC_CELLS)


@pytest.mark.parametrize("name", sorted(ARITHMETIC_CELLS))
def test_arithmetic_config_arms_are_valid_cli_configs(name: str, tmp_path) -> None:
    from experiments.arithmetic_config import load_arithmetic_config
    from experiments.arithmetic_run import cell_training
    from plot_lightning.cli.lightning_cli import PLOTLightningCLI

    config = load_arithmetic_config(CONFIG_DIR / f"{name}.yaml")
    assert config.name == name and len(config.arms) * len(config.seeds) == ARITHMETIC_CELLS[name]
    assert config.points == [config.max_steps // 2, config.max_steps]
    config.out_dir = str(tmp_path)
    for arm in config.arms:  # each arm's model section must be a valid LightningCLI config
        training = cell_training(config, arm, config.seeds[0])
        training["model"].update(model="tiny", model_dtype="float32")
        training["trainer"].update(accelerator="cpu", devices=1, precision="32-true")
        training["data"].update(train_files=["sample:demo"], val_files=["sample:demo_val"])
        training["tracking"]["mlflow"] = False
        path = tmp_path / f"{arm}.yaml"
        path.write_text(yaml.safe_dump(training), encoding="utf-8")
        cli = PLOTLightningCLI(args=["--config", str(path)], run=False)
        assert list(cli.model.hparams.losses) == config.arms[arm]["losses"]


@pytest.mark.parametrize("name", sorted(EXPECTED_CELLS))
def test_experiment_config_builds_its_grid(name: str, tmp_path) -> None:
    from experiments.config import load_experiment_config
    from experiments.data_prep import prepare_data
    from experiments.grid import build_cells

    raw = yaml.safe_load((CONFIG_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    config = load_experiment_config(CONFIG_DIR / f"{name}.yaml")
    assert config.name == name == raw["name"]
    if any(category.recipes for category in config.categories.values()) and not DATA_ROOT.is_dir():
        pytest.skip(f"recipe categories need the shared data at {DATA_ROOT}")
    config.out_dir = str(tmp_path)
    cells = build_cells(config, prepare_data(config, str(DATA_ROOT) if DATA_ROOT.is_dir() else None))
    assert len(cells) == EXPECTED_CELLS[name]
    assert {cell.method for cell in cells} == set(config.methods)
    assert {cell.category for cell in cells} == set(config.categories)


@pytest.mark.parametrize("name", sorted(EXPECTED_CELLS))
def test_cell_training_configs_are_valid_cli_configs(name: str, tmp_path) -> None:
    from experiments.config import load_experiment_config
    from experiments.data_prep import CategoryFiles
    from experiments.grid import Cell, build_cells
    from experiments.state import CellState
    from experiments.train_stage import cell_training_config
    from plot_lightning.cli.lightning_cli import PLOTLightningCLI

    config = load_experiment_config(CONFIG_DIR / f"{name}.yaml")
    data = {
        category: CategoryFiles(["sample:demo"], ["sample:demo_val"], ["sample:gsm8k"])
        for category in config.categories
    }
    cells: list[Cell] = build_cells(config, data)
    for method in config.methods:  # one cell per method: the method's model section must be valid
        cell = copy.deepcopy(next(c for c in cells if c.method == method))
        cell.training["model"]["model"] = "tiny"
        cell.training["model"]["model_dtype"] = "float32"
        cell.training["trainer"].update(accelerator="cpu", devices=1, precision="32-true", strategy="auto")
        training = cell_training_config(cell, CellState(tmp_path / method), config, None)
        training["tracking"]["mlflow"] = False
        path = tmp_path / f"{method}.yaml"
        path.write_text(yaml.safe_dump(training), encoding="utf-8")
        cli = PLOTLightningCLI(args=["--config", str(path)], run=False)
        assert list(cli.model.hparams.losses) == cell.training["model"]["losses"]
