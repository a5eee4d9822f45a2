"""The cells of an experiment: category x method x seed, plus one-at-a-time sweeps of alpha, beta or lr.

A cell's identity is the sha256 of its full resolved settings (the training config it will run, the content
hashes of its data files and suite, the metric settings), so changing one cell's settings gives that cell a
new identity and a new folder, and only it reruns. Sweep points equal to the defaults are the main cells.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from experiments.config import ExperimentConfig
from experiments.data_prep import CategoryFiles
from experiments.methods import DEFAULT_HYPERPARAMETERS, METHODS

SETTINGS_VERSION = 1
"""Bump when what a cell computes changes in a way its settings do not show (reruns every cell)."""


@dataclass
class Cell:
    """One trained-and-measured unit of the grid.

    Attributes:
        index: position in the grid (``--cell N``), stable for a given config.
        category, method, seed: what the cell trains.
        hyperparameters: ``alpha``, ``beta``, ``lr`` actually used.
        sweep: ``(name, value)`` when the cell exists only because of a sweep, else None.
        training: the LightningCLI config (dict) the cell runs, before its output paths are added.
        cell_id: sha256 (hex) of the resolved settings.
    """

    index: int
    category: str
    method: str
    seed: int
    hyperparameters: dict[str, float]
    sweep: tuple[str, float] | None
    training: dict[str, Any]
    heldout_files: list[str]
    cell_id: str

    @property
    def name(self) -> str:
        sweep = f"__{self.sweep[0]}={self.sweep[1]:g}" if self.sweep else ""
        return f"{self.category}__{self.method}__seed{self.seed}{sweep}__{self.cell_id[:12]}"

    def describe(self) -> str:
        sweep = f" {self.sweep[0]}={self.sweep[1]:g}" if self.sweep else ""
        return f"{self.category} {self.method} seed={self.seed}{sweep}"


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` merged in recursively (mappings merge, everything else replaces)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def file_sha256(spec: str) -> str:
    """Content hash of a data file (``sample:<name>`` resolves to the committed sample)."""
    from plot_lightning.data.reading import resolve_source

    path = resolve_source(spec)
    if not isinstance(path, Path) or not path.is_file():
        return f"unhashed:{spec}"
    return hashlib.sha256(path.read_bytes()).hexdigest()


def base_training(config: ExperimentConfig) -> dict[str, Any]:
    """The base training config merged with the experiment's ``train_overrides``."""
    base = yaml.safe_load(Path(config.base_config).read_text(encoding="utf-8")) or {}
    return deep_merge(base, config.train_overrides)


def _default_hyperparameters(config: ExperimentConfig, training: dict[str, Any]) -> dict[str, float]:
    lr = training.get("model", {}).get("optimizer", {}).get("init_args", {}).get("lr", 5e-6)
    return {**DEFAULT_HYPERPARAMETERS, "lr": float(lr), **config.defaults}


def _training_for(base: dict[str, Any], method: str, seed: int, h: dict[str, float], data: dict) -> dict:
    model = METHODS[method].build(h)
    optimizer = base.get("model", {}).get("optimizer") or {"class_path": "torch.optim.AdamW", "init_args": {}}
    optimizer = deep_merge(optimizer, {"init_args": {"lr": h["lr"]}})
    # The cell's seed owns every source of randomness: the global seed (LoRA init, sampling) AND the data
    # module's shuffle seed, which has its own generator and ignores seed_everything (exact resume).
    # Without it every seed trained on the same batch order and reproduced the same run.
    data = {**data, "seed": seed}
    training = deep_merge(base, {"seed_everything": seed, "model": {"optimizer": optimizer}, "data": data})
    training["model"].update(model)  # losses, weights and loss_args replace the base's, never merge with them
    return training


def _identity(training: dict[str, Any], heldout: list[str], config: ExperimentConfig) -> str:
    hashed = copy.deepcopy(training)
    hashed["data"]["train_files"] = [file_sha256(f) for f in training["data"]["train_files"]]
    hashed["data"]["val_files"] = [file_sha256(f) for f in training["data"]["val_files"]]
    suite = config.eval.suite
    settings = {
        "version": SETTINGS_VERSION,
        "training": hashed,
        "heldout": [file_sha256(f) for f in heldout],
        "metrics": asdict(config.metrics),
        "eval": {**asdict(config.eval), "suite": file_sha256(suite) if suite else None},
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def _points(config: ExperimentConfig, defaults: dict[str, float]) -> list[tuple[str, dict, tuple | None]]:
    """(method, hyperparameters, sweep) for the main grid, then every sweep point."""
    points = [(method, dict(defaults), None) for method in config.methods]
    swept = config.sweep_methods or config.methods
    for name, values in config.sweeps.items():
        for method in swept:
            if name != "lr" and name not in METHODS[method].uses:
                continue
            points += [(method, {**defaults, name: value}, (name, value)) for value in values]
    return points


def build_cells(config: ExperimentConfig, data: dict[str, CategoryFiles]) -> list[Cell]:
    """All cells, deduplicated by identity; ``data[category] = CategoryFiles(train, validation, heldout)``.

    Cells validate on the validation files only (none: no validation, not a slice of the training rows); the
    held-out files are kept for the judge-free metrics, so no choice made during training has seen them.
    """
    base = base_training(config)
    defaults = _default_hyperparameters(config, base)
    cells: list[Cell] = []
    seen: set[str] = set()
    for category, (train_files, validation_files, heldout_files) in data.items():
        data_section = {"train_files": train_files, "val_files": validation_files, "val_fraction": 0.0}
        for method, h, sweep in _points(config, defaults):
            for seed in config.seeds:
                training = _training_for(base, method, seed, h, data_section)
                cell_id = _identity(training, heldout_files, config)
                if cell_id in seen:
                    continue
                seen.add(cell_id)
                cells.append(
                    Cell(len(cells), category, method, seed, h, sweep, training, heldout_files, cell_id)
                )
    return cells
