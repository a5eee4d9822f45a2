"""Every shipped training config runs unedited on a small (30-row) dataset: two steps on the tiny model.

Only what a small test machine cannot run is overridden: the model (``tiny``), the data files (the first 30
rows of the config's own training file, and 6 validation rows), ``max_steps`` and the output folder.
Settings such as ``val_check_interval`` stay as shipped, so a config that only works on a large dataset fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from plot_lightning.data.reading import resolve_source

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
CONFIGS = sorted(CONFIG_DIR.glob("*.yaml"))
TRAIN_ROWS, VAL_ROWS = 30, 6


def _first_rows(spec: str, count: int, path: Path) -> str:
    lines = [
        line for line in Path(resolve_source(spec)).read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    rows = [json.loads(line) for line in lines]
    path.write_text("".join(json.dumps(rows[i % len(rows)]) + "\n" for i in range(count)), encoding="utf-8")
    return str(path)


def _arguments(config: Path, tmp_path: Path) -> list[str]:
    data = yaml.safe_load(config.read_text(encoding="utf-8"))["data"]
    args = ["fit", "--config", str(config), "--model.model", "tiny", "--trainer.max_steps", "2"]
    args += ["--trainer.default_root_dir", str(tmp_path / "run"), "--tracking.mlflow", "false"]
    args += ["--trainer.enable_progress_bar", "false", "--trainer.accelerator", "cpu"]
    args += ["--data.train_files", _first_rows(data["train_files"], TRAIN_ROWS, tmp_path / "train.jsonl")]
    if data.get("val_files"):
        args += ["--data.val_files", _first_rows(data["val_files"], VAL_ROWS, tmp_path / "val.jsonl")]
    return args


def _devices(config: Path) -> int:
    return int(yaml.safe_load(config.read_text(encoding="utf-8"))["trainer"].get("devices", 1))


def _last_checkpoint(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "run").rglob("last.ckpt*"))


SINGLE = [c for c in CONFIGS if _devices(c) == 1]
MULTI = [c for c in CONFIGS if _devices(c) > 1]


@pytest.mark.slow
@pytest.mark.parametrize("config", SINGLE, ids=lambda path: path.stem)
def test_single_device_config_runs_on_small_data(config: Path, tmp_path: Path) -> None:
    from plot_lightning.cli.lightning_cli import PLOTLightningCLI

    cli = PLOTLightningCLI(args=_arguments(config, tmp_path))
    assert cli.trainer.global_step == 2
    assert _last_checkpoint(tmp_path)


@pytest.mark.slow
@pytest.mark.multiprocess
@pytest.mark.parametrize("config", MULTI, ids=lambda path: path.stem)
def test_multi_process_config_runs_on_small_data(config: Path, tmp_path: Path) -> None:
    """Two real processes on gloo, started as a fresh interpreter with a clean environment (docs/testing.md)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MASTER_", "LT_", "PL_"))}
    env = {k: v for k, v in env.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE")}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "plot_lightning", *_arguments(config, tmp_path)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _last_checkpoint(tmp_path)
