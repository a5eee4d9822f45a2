"""The arithmetic experiment's analysis, as fixed in its config: per-item arrays, contrasts, Holm, MDE, verdict.

Per item and metric (see :data:`.arithmetic_config.METRICS`): ``accuracy`` is 0/1; ``ontask_kl`` and
``ontask_nll`` are the sums over the correct response's tokens divided by its token count;
``offtask_nll_change`` is ``(nll - ref_nll) / tokens`` of a Human Values chosen response (its log-perplexity
change). An arm's value at a point is an ``(S, I)`` array, seeds by items; a contrast pairs two arms by seed
and item and resamples both (:func:`.contrasts.paired_contrast`). Holm adjusts the p-values of all the
config's contrasts together.

The verdict "PLOT helps" needs every ``primary``/``secondary`` contrast to be positive in the good direction
with its Holm-adjusted p below the level, and no ``no_worse`` contrast significantly worse; anything else is
said as it is: "no difference resolvable" when the primary interval crosses zero.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from experiments.arithmetic_config import HIGHER_IS_BETTER, METRICS, ArithmeticExperiment
from experiments.contrasts import (
    bootstrap_replicates,
    holm,
    minimum_detectable_effect,
    paired_contrast,
)


def item_values(record: dict[str, Any]) -> dict[str, dict[int, float]]:
    """``{metric: {item index: value}}`` of one measurement."""
    items = record["items"]
    values = {"accuracy": {i["item"]: float(i["correct"]) for i in items["accuracy"]}}
    values["ontask_kl"] = {i["item"]: i["kl"] / i["tokens"] for i in items["ontask"]}
    values["ontask_nll"] = {i["item"]: i["nll"] / i["tokens"] for i in items["ontask"]}
    values["offtask_nll_change"] = {
        i["item"]: (i["nll"] - i["ref_nll"]) / i["tokens"] for i in items["offtask"]
    }
    return values


def load_measurements(
    config: ArithmeticExperiment,
) -> dict[tuple[str, int, int], dict[str, dict[int, float]]]:
    """``{(arm, seed, step): item values}`` of every finished measurement, plus ``("base", 0, 0)``."""
    from experiments.arithmetic_run import cell_folder

    out = {}
    base = Path(config.out_dir) / "base.json"
    out[("base", 0, 0)] = item_values(json.loads(base.read_text(encoding="utf-8")))
    for arm in config.arms:
        for seed in config.seeds:
            for step in config.points:
                path = cell_folder(config, arm, seed) / f"step{step}.json"
                if path.exists():
                    out[(arm, seed, step)] = item_values(json.loads(path.read_text(encoding="utf-8")))
    return out


def measurements_from_items(lines: Iterable[str]) -> dict[tuple[str, int, int], dict[str, dict[int, float]]]:
    """What :func:`load_measurements` returns, rebuilt from the lines of a committed ``items.jsonl`` (one JSON
    object per measured item, as :func:`.arithmetic_report.write_items` writes them)."""
    records: dict[tuple[str, int, int], dict[str, list[dict[str, Any]]]] = {}
    for line in lines:
        if line.strip():
            item = json.loads(line)
            key = (item.pop("arm"), item.pop("seed"), item.pop("step"))
            records.setdefault(key, {}).setdefault(item.pop("set"), []).append(item)
    return {key: item_values({"items": sets}) for key, sets in records.items()}


def arm_array(measurements, arm: str, seeds: list[int], step: int, metric: str) -> np.ndarray:
    """``(S, I)`` over the items every seed measured (in item order)."""
    rows = [measurements[(arm, seed, step)][metric] for seed in seeds]
    common = sorted(set.intersection(*(set(row) for row in rows)))
    return np.array([[row[item] for item in common] for row in rows])


def arm_summary(values: np.ndarray, resamples: int, confidence: float) -> dict[str, float]:
    """Mean with a percentile interval from the two-way bootstrap of the values themselves (stays in range)."""
    replicates = bootstrap_replicates(values, resamples, np.random.default_rng(0))
    tail = (1 - confidence) / 2
    low, high = np.quantile(replicates, [tail, 1 - tail])
    return {"mean": float(values.mean()), "low": float(low), "high": float(high),
            "degenerate": bool(replicates.std() == 0), "seeds": values.shape[0], "items": values.shape[1]}  # fmt: skip


def analyse(config: ArithmeticExperiment, measurements=None) -> dict[str, Any]:
    """Arm summaries at every point and the config's contrasts at the end, with Holm, MDE and the verdict;
    ``measurements`` default to the run's files (:func:`load_measurements`)."""
    measurements = load_measurements(config) if measurements is None else measurements
    settings = config.analysis
    arms: dict[str, Any] = {}
    for arm in config.arms:
        arms[arm] = {
            str(step): {
                metric: arm_summary(arm_array(measurements, arm, config.seeds, step, metric),
                                    settings["resamples"], settings["confidence"])
                for metric in METRICS
            }
            for step in config.points
        }  # fmt: skip
    base = measurements[("base", 0, 0)]
    end = config.max_steps
    results = []
    for contrast in config.contrasts:
        treated = arm_array(measurements, contrast.treated, config.seeds, end, contrast.metric)
        other = arm_array(measurements, contrast.base, config.seeds, end, contrast.metric)
        result = paired_contrast(
            contrast.name, treated, other, settings["resamples"], 0, settings["confidence"]
        )
        results.append((contrast, result))
    adjusted = holm([r.p_value for _, r in results])
    contrasts = []
    for (contrast, result), p_adjusted in zip(results, adjusted, strict=True):
        sign = 1 if HIGHER_IS_BETTER[contrast.metric] else -1
        significant = p_adjusted < settings["level"]
        contrasts.append({
            "name": contrast.name, "treated": contrast.treated, "base": contrast.base,
            "metric": contrast.metric, "role": contrast.role, "estimate": result.estimate,
            "low": result.low, "high": result.high, "p_value": result.p_value, "p_holm": p_adjusted,
            "se": result.se, "degenerate": result.degenerate,
            "mde": minimum_detectable_effect(result.se, settings["level"]),
            "better": bool(significant and sign * result.estimate > 0),
            "worse": bool(significant and sign * result.estimate < 0),
            "seeds": result.n_seeds, "items": result.n_items,
        })  # fmt: skip
    return {
        "base": {metric: float(np.mean(list(base[metric].values()))) for metric in METRICS},
        "base_items": {metric: len(base[metric]) for metric in METRICS},
        "arms": arms,
        "contrasts": contrasts,
        "verdict": verdict(contrasts),
        "analysis": settings,
    }


def verdict(contrasts: list[dict[str, Any]]) -> str:
    """The plain answer, from the contrasts' roles (see the module docstring)."""
    primary = next(c for c in contrasts if c["role"] == "primary")
    needed = [c for c in contrasts if c["role"] in ("primary", "secondary")]
    worse = [c["name"] for c in contrasts if c["role"] == "no_worse" and c["worse"]]
    if all(c["better"] for c in needed) and not worse:
        return "PLOT helps here: it beats every comparison arm and is no worse in the guarded metrics"
    if primary["worse"]:
        return f"PLOT hurts here: {primary['name']} is significantly negative"
    if primary["degenerate"]:
        return f"no difference resolvable: {primary['name']} is degenerate (every resample equal, {primary['estimate']:+.3f})"
    if not primary["better"]:
        return (f"no difference resolvable: {primary['name']} {primary['estimate']:+.3f} "
                f"[{primary['low']:+.3f}, {primary['high']:+.3f}], smaller than the MDE {primary['mde']:.3f}"
                if abs(primary["estimate"]) < primary["mde"] else
                f"no difference resolvable: {primary['name']} {primary['estimate']:+.3f} "
                f"[{primary['low']:+.3f}, {primary['high']:+.3f}] (Holm p {primary['p_holm']:.3f})")  # fmt: skip
    failed = [c["name"] for c in needed if not c["better"]] + worse
    return f"PLOT beats the primary comparison but not the rest ({', '.join(failed)}): not credited to PLOT"
