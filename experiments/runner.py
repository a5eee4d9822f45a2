"""Run an experiment's cells: train, export, measure, evaluate; every stage skipped once its marker exists.

A cell that fails is reported and the other cells go on (they are independent); ``run_experiment`` returns
the failures. Only global rank 0 (torchrun / SLURM) exports, measures and evaluates after training.
"""

from __future__ import annotations

import shutil
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from experiments.config import ExperimentConfig
from experiments.cost import summarize_cost
from experiments.grid import Cell
from experiments.state import CellState, atomic_write_json
from experiments.tracking import ExperimentTracker
from experiments.train_stage import is_rank_zero, train_cell


def cell_state(config: ExperimentConfig, cell: Cell) -> CellState:
    return CellState(Path(config.out_dir) / "cells" / cell.name)


def baseline_folder(config: ExperimentConfig, spec: str) -> Path:
    """A Hugging Face folder of the untrained model (plot-eval's baseline): the spec's folder, else saved once."""
    from plot_lightning.models.known_gguf import KNOWN_GGUFS
    from plot_lightning.models.loading import load_causal_lm, load_tokenizer

    if spec.lower() in KNOWN_GGUFS:
        from plot_lightning.models.prepare import known_folder

        return known_folder(spec)
    if Path(spec).is_dir():
        return Path(spec)
    folder = Path(config.out_dir) / "base_model"
    if not (folder / "config.json").is_file():
        scratch = folder.with_name(".base_model.tmp")
        shutil.rmtree(scratch, ignore_errors=True)
        load_causal_lm(spec).save_pretrained(scratch)
        load_tokenizer(spec).save_pretrained(scratch)
        shutil.rmtree(folder, ignore_errors=True)
        scratch.rename(folder)
    return folder


def _export(cell: Cell, state: CellState) -> dict[str, Any]:
    import json

    from plot_lightning.export import export_checkpoint

    shutil.rmtree(
        state.export, ignore_errors=True
    )  # a partial export from a crash; the checkpoint is the truth
    export_checkpoint(state.last_checkpoint, state.export, config_path=state.train_config)
    step = json.loads((state.export / "plot_export.json").read_text(encoding="utf-8"))["global_step"]
    max_steps = int(cell.training.get("trainer", {}).get("max_steps", -1))
    if max_steps > 0 and step != max_steps:
        raise RuntimeError(f"{state.last_checkpoint} is at step {step}, not max_steps={max_steps}")
    return {"export": str(state.export), "global_step": step}


def _evaluate(config: ExperimentConfig, cell: Cell, state: CellState) -> dict[str, Any]:
    from experiments.eval_stage import read_eval_metrics, run_eval

    if not config.eval.suite:
        return {"metrics": {}, "suite": None}
    baseline = baseline_folder(config, str(cell.training["model"].get("model", "tiny")))
    run_eval(config.eval, state.export, baseline, state.eval_dir)
    return {"metrics": read_eval_metrics(state.eval_dir), "suite": config.eval.suite}


def cell_record(cell: Cell) -> dict[str, Any]:
    return {
        "index": cell.index, "name": cell.name, "cell_id": cell.cell_id, "category": cell.category,
        "method": cell.method, "seed": cell.seed, "hyperparameters": cell.hyperparameters,
        "sweep": list(cell.sweep) if cell.sweep else None,
    }  # fmt: skip


def run_cell(
    cell: Cell, config: ExperimentConfig, tracker: ExperimentTracker, tracking_uri: str | None,
    callbacks: Sequence[Any] = (),
) -> dict[str, Any] | None:  # fmt: skip
    """Run whatever ``cell`` has not finished; return its ``done`` record (None on a non-zero rank)."""
    state = cell_state(config, cell)
    if state.finished("done"):
        return state.read("done")
    state.root.mkdir(parents=True, exist_ok=True)
    atomic_write_json(state.root / "settings.json", {**cell_record(cell), "training": cell.training})
    if not state.finished("trained"):
        state.mark("trained", train_cell(cell, state, config, tracking_uri, callbacks))
    if not is_rank_zero():
        return None
    if not state.finished("exported"):
        state.mark("exported", _export(cell, state))
    if not state.finished("measured"):
        from experiments.measure_stage import measure_cell

        state.mark("measured", measure_cell(cell, state.export, config))
    if not state.finished("evaluated"):
        state.mark("evaluated", _evaluate(config, cell, state))
    measured, evaluated = state.read("measured"), state.read("evaluated")
    record = {
        **cell_record(cell), "heldout": measured["heldout"], "diagnostic": measured["diagnostic"],
        "heldout_items": measured.get("heldout_items", []),
        "eval": evaluated["metrics"], "cost": summarize_cost(state.root / "cost"),
    }  # fmt: skip
    state.mark("done", record)
    tracker.log_cell(state.root, cell.cell_id, cell.describe(), cell_record(cell), flat_metrics(record))
    _clean(config, state)
    return record


def _clean(config: ExperimentConfig, state: CellState) -> None:
    if not config.train.keep_checkpoints:
        shutil.rmtree(state.checkpoints, ignore_errors=True)
    if not config.train.keep_exports:
        shutil.rmtree(state.export, ignore_errors=True)


def flat_metrics(record: dict[str, Any]) -> dict[str, float]:
    """``heldout/<group>/<metric>``, ``eval/<group>/<metric>``, ``cost/<metric>`` of a done record."""
    flat = {}
    for source in ("heldout", "eval"):
        for group, values in (record.get(source) or {}).items():
            flat |= {f"{source}/{group}/{key}": float(value) for key, value in values.items()}
    flat |= {f"cost/{key}": float(value) for key, value in (record.get("cost") or {}).items()}
    return flat


def run_cells(
    cells: list[Cell], config: ExperimentConfig, tracker: ExperimentTracker, tracking_uri: str | None,
    callbacks: Sequence[Any] = (), total: int | None = None,
) -> list[tuple[Cell, str]]:  # fmt: skip
    """Run ``cells`` in order with progress lines; return ``[(cell, error text)]`` of the failed ones."""
    from experiments.progress import Progress

    already = sum(cell_state(config, c).finished("done") for c in cells)
    progress = Progress(len(cells), already)
    failures = []
    for cell in cells:
        if cell_state(config, cell).finished("done"):
            continue
        print(progress.line(f"starting cell {cell.index} ({cell.describe()})"), flush=True)
        progress.start_cell()
        try:
            run_cell(cell, config, tracker, tracking_uri, callbacks)
        except Exception as error:  # noqa: BLE001 - one failed cell must not stop the others
            failures.append((cell, f"{type(error).__name__}: {error}"))
            print(
                f"[experiment] cell {cell.index} ({cell.describe()}) FAILED:\n{traceback.format_exc()}",
                flush=True,
            )
            continue
        seconds = progress.finish_cell()
        print(progress.line(f"cell {cell.index} finished in {seconds:.0f} s"), flush=True)
    return failures
