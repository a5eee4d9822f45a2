"""Run the arithmetic experiment: base measurement, the gate, then every arm x seed, each measured twice.

Order: the base model is measured once (step 0; every arm starts there). The gate cell (one DPO seed)
trains first; when its held-out accuracy at the end is not ``gate.min_gain`` above the base's, the run
stops with :class:`GateStop` before spending the grid. Then every other arm x seed. A cell trains in this
process through the project's LightningCLI (``base_config`` + ``train_overrides`` + the arm's losses), and
:class:`MeasureAt` measures the policy at the middle and at the end of training (:mod:`.arithmetic_measure`).

Each finished measurement is written atomically to ``<out>/cells/<arm>__seed<k>/step<N>.json``; a cell is done
when all its points exist, and a rerun skips done cells (a killed cell restarts from its first step).
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import yaml

from experiments.arithmetic_config import ArithmeticExperiment
from experiments.arithmetic_measure import generated_correct, measure_policy, prepare_inputs
from experiments.grid import deep_merge
from experiments.state import atomic_write_json


class GateStop(RuntimeError):
    """The gate cell did not move held-out accuracy by the required amount: the grid is not worth running."""


def read_heldout(data_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(data_dir) / "heldout.jsonl"
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            row = json.loads(line)
            rows.append({key: row[key] for key in ("prompt", "prefill", "answer", "response", "source_id")})
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise ValueError(f"{path}: line {number}: not a held-out row ({error})") from None
    return rows


def read_offtask(config: ArithmeticExperiment) -> list[dict[str, Any]]:
    """The first ``offtask_per_file`` pairs of each off-task file (Human Values held-out pairs)."""
    from plot_lightning.data.records import load_records
    from plot_lightning.data.validation import BadRowLog

    rows = []
    for spec in config.measure["offtask_files"]:
        records, _ = load_records([spec], "auto", BadRowLog("error"))
        rows += [
            {**r, "source_id": f"{spec}#{r['row']}"} for r in records[: config.measure["offtask_per_file"]]
        ]
    return rows


class MeasureAt(pl.Callback):
    """Measure the policy after the training steps in ``points``; write each result to ``folder/step<N>.json``."""

    def __init__(self, points: list[int], folder: Path, inputs: dict[str, Any]) -> None:
        self.points, self.folder, self.inputs = set(points), folder, inputs

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if step not in self.points or (self.folder / f"step{step}.json").exists():
            return
        started = time.perf_counter()
        items = measure_policy(pl_module.policy, self.inputs)
        shares = {
            k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("train/grad_share")
        }
        record = {"step": step, "items": items, "seconds": time.perf_counter() - started}
        record |= {
            "weights": dict(zip(pl_module.loss.names, map(float, pl_module.loss.weights), strict=True))
        }
        atomic_write_json(self.folder / f"step{step}.json", record | {"grad_shares": shares})


def cell_folder(config: ArithmeticExperiment, arm: str, seed: int) -> Path:
    return Path(config.out_dir) / "cells" / f"{arm}__seed{seed}"


def cell_done(config: ArithmeticExperiment, arm: str, seed: int) -> bool:
    return all((cell_folder(config, arm, seed) / f"step{p}.json").exists() for p in config.points)


def cell_training(config: ArithmeticExperiment, arm: str, seed: int) -> dict[str, Any]:
    """The LightningCLI config of one cell."""
    folder = cell_folder(config, arm, seed)
    data_dir = Path(config.data_dir)
    training = deep_merge(
        yaml.safe_load(Path(config.base_config).read_text(encoding="utf-8")) or {}, config.train_overrides
    )
    training = deep_merge(
        training,
        {
            "seed_everything": seed,
            "trainer": {"default_root_dir": str(folder), "enable_checkpointing": False, "callbacks": []},
            "data": {
                "train_files": [str(data_dir / "train.jsonl")],
                "val_files": [str(data_dir / "validation.jsonl")],
                "seed": seed,
            },
            "tracking": {"run_name": f"{arm} seed {seed}"},
        },
    )
    # the arm's losses, weights and options replace the base's, never merge with them
    arm_model = {"loss_args": {}, "weight_shares": None, "loss_ratio": None, **config.arms[arm]}
    training["model"].update({"model": config.model, **arm_model})
    if training["model"].get("reference") == "precomputed" and not training["model"].get(
        "reference_cache_dir"
    ):
        # every cell trains on the same pairs from the same base model: the first cell builds, the rest read
        training["model"]["reference_cache_dir"] = str(Path(config.out_dir) / "reference_cache")
    return training


def train_cell(config: ArithmeticExperiment, arm: str, seed: int, inputs: dict[str, Any]) -> None:
    from plot_lightning.cli.lightning_cli import PLOTLightningCLI

    folder = cell_folder(config, arm, seed)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "train.yaml"
    path.write_text(yaml.safe_dump(cell_training(config, arm, seed), sort_keys=False), encoding="utf-8")
    callback = MeasureAt(config.points, folder, inputs)
    argv, sys.argv = sys.argv, sys.argv[:1]  # LightningCLI reads sys.argv too: this command's own arguments
    try:
        PLOTLightningCLI(args=["fit", "--config", str(path)], trainer_defaults={"callbacks": [callback]})
    finally:
        sys.argv = argv
    gc.collect()
    if not cell_done(config, arm, seed):
        raise RuntimeError(f"cell {folder.name} finished training without measuring steps {config.points}")


def measurement_inputs(config: ArithmeticExperiment) -> tuple[dict[str, Any], dict[str, Any]]:
    """The measurement inputs (the reference's log-probs computed once) and the base model's record (step 0,
    policy = reference), with the check that the teacher-forced accuracy agrees with ``generate``."""
    from plot_lightning.models.loading import load_causal_lm, load_tokenizer

    reference, tokenizer = load_causal_lm(config.model), load_tokenizer(config.model)
    heldout, offtask = read_heldout(config.data_dir), read_offtask(config)
    inputs = prepare_inputs(reference, tokenizer, heldout, offtask, config.measure)
    path = Path(config.out_dir) / "base.json"
    if path.exists():
        return inputs, json.loads(path.read_text(encoding="utf-8"))
    items = measure_policy(reference, inputs)
    generated = generated_correct(reference, tokenizer, heldout, config.measure["max_new_tokens"])
    forced = [item["correct"] for item in items["accuracy"]]
    agreement = {"items": len(forced), "agree": sum(a == b for a, b in zip(forced, generated, strict=True)),
                 "generated_correct": sum(generated), "forced_correct": sum(forced)}  # fmt: skip
    record = {"step": 0, "items": items, "greedy_agreement": agreement}
    atomic_write_json(path, record)
    return inputs, record


def accuracy_of(record: dict[str, Any]) -> float:
    items = record["items"]["accuracy"]
    return sum(item["correct"] for item in items) / len(items)


def check_gate(config: ArithmeticExperiment, base: dict[str, Any]) -> dict[str, Any]:
    arm, seed = config.gate["arm"], config.gate["seed"]
    end = json.loads(
        (cell_folder(config, arm, seed) / f"step{config.max_steps}.json").read_text(encoding="utf-8")
    )
    verdict = {
        "arm": arm, "seed": seed, "base_accuracy": accuracy_of(base), "end_accuracy": accuracy_of(end),
        "min_gain": config.gate["min_gain"],
    }  # fmt: skip
    verdict["gain"] = verdict["end_accuracy"] - verdict["base_accuracy"]
    verdict["passed"] = verdict["gain"] >= verdict["min_gain"]
    atomic_write_json(Path(config.out_dir) / "gate.json", verdict)
    return verdict


def run_arithmetic(config: ArithmeticExperiment, log=print) -> dict[str, Any]:
    """Measure the base, pass the gate, run every cell; returns ``{"gate", "seconds"}``. Raises GateStop."""
    started = time.perf_counter()
    Path(config.out_dir).mkdir(parents=True, exist_ok=True)
    inputs, base = measurement_inputs(config)
    gc.collect()
    agreement = base["greedy_agreement"]
    log(
        f"[arithmetic] base model: held-out accuracy {accuracy_of(base):.3f} ({len(inputs['heldout'])} prompts; "
        f"the teacher-forced and generated verdicts agree on {agreement['agree']}/{agreement['items']})"
    )
    gate_cell = (config.gate["arm"], config.gate["seed"])
    cells = [gate_cell] + [(a, s) for a in config.arms for s in config.seeds if (a, s) != gate_cell]
    for index, (arm, seed) in enumerate(cells):
        if not cell_done(config, arm, seed):
            log(
                f"[arithmetic] cell {index + 1}/{len(cells)}: {arm} seed {seed} ({time.perf_counter() - started:.0f} s)"
            )
            train_cell(config, arm, seed, inputs)
        if index == 0:
            gate = check_gate(config, base)
            log(f"[arithmetic] gate ({arm} seed {seed}): accuracy {gate['base_accuracy']:.3f} -> "
                f"{gate['end_accuracy']:.3f}, gain {gate['gain']:+.3f} (needs {gate['min_gain']:+.3f})")  # fmt: skip
            if not gate["passed"]:
                raise GateStop(
                    f"the gate cell ({arm} seed {seed}) moved held-out accuracy by {gate['gain']:+.3f}, "
                    f"less than {gate['min_gain']:+.3f}: change the operation or the learning rate before the grid"
                )
    return {"gate": gate, "seconds": time.perf_counter() - started}
