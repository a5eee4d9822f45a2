"""``run_experiment``: load the config, prepare the data, build the grid, run the chosen cells, collect.

How to run::

    python -m experiments grid --config configs/experiments/cpu_small.yaml            # all cells, then collect
    python -m experiments grid --config configs/experiments/cpu_small.yaml --list-cells
    python -m experiments grid --config configs/experiments/cpu_small.yaml --cell 3   # one cell (cluster jobs)
    python -m experiments grid --config configs/experiments/cpu_small.yaml --collect  # table from finished cells
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.collect import collect
from experiments.config import ExperimentConfig, load_experiment_config
from experiments.data_prep import prepare_data
from experiments.grid import Cell, build_cells
from experiments.runner import cell_state, run_cells
from experiments.tracking import ExperimentTracker


@dataclass
class Experiment:
    """A loaded experiment: its config, its cells, and where it logs."""

    config: ExperimentConfig
    cells: list[Cell]
    tracking_uri: str | None

    def tracker(self) -> ExperimentTracker:
        """The MLflow tracker of global rank 0 (other ranks of a multi-process cell track nothing)."""
        from experiments.train_stage import is_rank_zero

        uri = self.tracking_uri if is_rank_zero() else None
        tracker = ExperimentTracker(uri, self.config.tracking.experiment, Path(self.config.out_dir))
        tracker.start({"name": self.config.name, "config": self.config.path, "cells": len(self.cells)})
        return tracker


def load_experiment(path: str | Path, data_root: str | None = None) -> Experiment:
    """Parse the config, prepare the category data (once) and build the cells."""
    from plot_lightning.tracking import default_tracking_uri

    config = load_experiment_config(path)
    cells = build_cells(config, prepare_data(config, data_root))
    uri = None
    if config.tracking.mlflow:
        uri = config.tracking.uri or default_tracking_uri(config.out_dir)
    return Experiment(config, cells, uri)


def list_cells(experiment: Experiment) -> str:
    """One line per cell: index, status, description, folder."""
    lines = []
    for cell in experiment.cells:
        status = "done" if cell_state(experiment.config, cell).finished("done") else "todo"
        lines.append(f"{cell.index:4d}  {status:4s}  {cell.describe():50s}  {cell.name}")
    return "\n".join(lines)


def run_experiment(
    path: str | Path, *, cells: Sequence[int] | None = None, max_cells: int | None = None,
    callbacks: Sequence[Any] = (), data_root: str | None = None, collect_results: bool = True,
) -> tuple[Experiment, list[tuple[Cell, str]]]:  # fmt: skip
    """Run the selected cells (default all; at most ``max_cells`` of them), then collect; return the failures."""
    experiment = load_experiment(path, data_root)
    selected = experiment.cells
    if cells is not None:
        bad = [index for index in cells if not 0 <= index < len(experiment.cells)]
        if bad:
            raise IndexError(
                f"cell index {bad} out of range: the grid has {len(experiment.cells)} cells (0-based)"
            )
        selected = [experiment.cells[index] for index in cells]
    if max_cells is not None:
        selected = selected[:max_cells]
    tracker = experiment.tracker()
    failures = run_cells(selected, experiment.config, tracker, experiment.tracking_uri, callbacks)
    if collect_results:
        collect(experiment.config, experiment.cells, tracker)
    tracker.finish()
    return experiment, failures
