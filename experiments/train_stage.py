"""Train one cell through the project's LightningCLI, resuming from ``<cell>/checkpoints/last.ckpt``.

The cell's config (``<cell>/train.yaml``) is its resolved training config plus output paths: the run root is
the cell folder, a ``ModelCheckpoint`` with a fixed ``dirpath`` saves a checkpoint every
``train.checkpoint_every`` steps with ``last.ckpt`` linked to it (one write, not two; ``--ckpt_path last``
finds it after a crash or kill), the
:class:`~experiments.cost.TrainingCostMeter` records the cost, and the MLflow run goes to the
experiment's store with the cell's name. Launchers: ``subprocess`` (``python -m plot_lightning fit``; the
training may itself be multi-GPU or multi-node) and ``inprocess`` (same CLI in this process).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

import yaml

from experiments.config import ExperimentConfig
from experiments.grid import Cell
from experiments.state import CellState

CHECKPOINT_CLASS = "lightning.pytorch.callbacks.ModelCheckpoint"


def cell_training_config(
    cell: Cell, state: CellState, config: ExperimentConfig, tracking_uri: str | None
) -> dict:
    """The LightningCLI config of ``cell`` with its output paths, checkpointing, cost meter and tracking."""
    training = dict(cell.training)
    trainer = dict(training.get("trainer") or {})
    max_steps = int(trainer.get("max_steps", -1))
    every = min(config.train.checkpoint_every, max_steps) if max_steps > 0 else config.train.checkpoint_every
    if max_steps > 0 and max_steps % every:
        raise ValueError(
            f"{config.path}: train.checkpoint_every={every} must divide trainer.max_steps={max_steps} "
            "(the final step must be checkpointed so that the export is the finished policy)"
        )
    devices, nodes = trainer.get("devices", 1), int(trainer.get("num_nodes", 1))
    if config.train.launcher == "inprocess" and (str(devices) not in ("1", "[0]") or nodes != 1):
        raise ValueError(
            f"{config.path}: train.launcher 'inprocess' runs one device (trainer.devices={devices!r}, "
            f"num_nodes={nodes}); use launcher 'subprocess' for multi-device cells"
        )
    kept = [c for c in trainer.get("callbacks") or [] if c.get("class_path") != CHECKPOINT_CLASS]
    trainer["callbacks"] = [
        *kept,
        {
            "class_path": CHECKPOINT_CLASS,
            "init_args": {
                "dirpath": str(state.checkpoints),
                "save_last": "link",
                "every_n_train_steps": every,
            },
        },
        {
            "class_path": "experiments.cost.TrainingCostMeter",
            "init_args": {"output_dir": str(state.root / "cost")},
        },
    ]
    trainer["default_root_dir"] = str(state.root)
    training["trainer"] = trainer
    training["tracking"] = {
        **(training.get("tracking") or {}),
        "mlflow": config.tracking.mlflow,
        "uri": tracking_uri,
        "experiment": config.tracking.experiment,
        "run_name": f"train {cell.describe()}",
    }
    return training


def _fit_args(state: CellState) -> list[str]:
    args = ["fit", "--config", str(state.train_config)]
    if state.last_checkpoint.exists():
        args += ["--ckpt_path", "last"]  # Lightning finds <dirpath>/last.ckpt of the ModelCheckpoint
    return args


def run_subprocess(state: CellState, callbacks: Sequence[Any]) -> None:
    """``python -m plot_lightning fit`` in a child process, output appended to ``<cell>/train.log``."""
    if callbacks:
        raise ValueError("extra training callbacks need the 'inprocess' launcher")
    command = [sys.executable, "-m", "plot_lightning", *_fit_args(state)]
    log_file = state.root / "train.log"
    with open(log_file, "a", encoding="utf-8") as log:
        log.write("$ " + " ".join(command) + "\n")
        log.flush()
        code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy()).returncode
    if code != 0:
        tail = "".join(log_file.read_text(encoding="utf-8", errors="replace").splitlines(True)[-25:])
        raise RuntimeError(
            f"training of {state.root.name} failed (exit code {code}); {log_file} ends:\n{tail}"
        )


def run_inprocess(state: CellState, callbacks: Sequence[Any]) -> None:
    """The same LightningCLI inside this process (single device); ``callbacks`` are added to the Trainer."""
    import gc

    import torch

    from plot_lightning.cli.lightning_cli import PLOTLightningCLI

    PLOTLightningCLI(args=_fit_args(state), trainer_defaults={"callbacks": list(callbacks)})
    gc.collect()  # the cell's models and optimizer state, before the next cell loads its own
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


LAUNCHERS: dict[str, Callable[[CellState, Sequence[Any]], None]] = {
    "subprocess": run_subprocess,
    "inprocess": run_inprocess,
}


def train_cell(
    cell: Cell,
    state: CellState,
    config: ExperimentConfig,
    tracking_uri: str | None,
    callbacks: Sequence[Any] = (),
) -> dict[str, Any]:
    """Train (or resume) ``cell``; return the ``trained`` marker's payload."""
    state.root.mkdir(parents=True, exist_ok=True)
    training = cell_training_config(cell, state, config, tracking_uri)
    tmp = state.train_config.with_name(f".{state.train_config.name}.{os.getpid()}")
    tmp.write_text(yaml.safe_dump(training, sort_keys=False), encoding="utf-8")
    os.replace(tmp, state.train_config)  # several ranks may write it at once: readers never see half a file
    resumed = state.last_checkpoint.exists()
    LAUNCHERS[config.train.launcher](state, callbacks)
    if not state.last_checkpoint.exists():
        raise RuntimeError(f"training of {state.root.name} wrote no {state.last_checkpoint}")
    return {"checkpoint": str(state.last_checkpoint), "resumed": resumed, "launcher": config.train.launcher}


def is_rank_zero() -> bool:
    """Whether this process is global rank 0 under torchrun / SLURM (export, metrics and eval run there)."""
    for name in ("RANK", "SLURM_PROCID"):
        if os.environ.get(name, "0") != "0":
            return False
    return True
