"""The files one evaluation writes: `results.json` (summary: suite config, versions, seeds, fingerprints, every
metric with its CI, scores, lm-eval, cache statistics) and `samples.jsonl` (one record per sample), both
written atomically (temporary sibling, fsync, rename): a reader never sees half a file."""

from __future__ import annotations

import json
import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from plot_eval.reports.reading import set_entries
from plot_eval.sources.base import read_jsonl, read_parsed

RESULTS_FILE = "results.json"
SAMPLES_FILE = "samples.jsonl"
RESULTS_SCHEMA_VERSION = 3
_PACKAGES = ("plot-lightning", "torch", "transformers", "lm_eval", "mlflow", "datasets", "torchmetrics")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write `text` to `path` via a temporary sibling file + fsync + os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as tmp:
            tmp.write(text)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def write_results(output_dir: str | os.PathLike, results: dict[str, Any]) -> Path:
    return atomic_write_text(
        Path(output_dir) / RESULTS_FILE, json.dumps(results, indent=2, sort_keys=False) + "\n"
    )


def write_samples(output_dir: str | os.PathLike, samples: list[dict[str, Any]]) -> Path:
    text = "".join(json.dumps(sample, ensure_ascii=False) + "\n" for sample in samples)
    return atomic_write_text(Path(output_dir) / SAMPLES_FILE, text)


def load_results(path: str | os.PathLike) -> dict[str, Any]:
    """Read a results.json, given the file or the run folder holding it (a schema 2 file's top-level scorer
    blocks are moved under `scores`)."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    results = read_parsed(path, json.loads, json.JSONDecodeError, "JSON", f"no results file at {path}")
    if not isinstance(results, dict) or "subpreferences" not in results:
        raise ValueError(f"{path}: not a plot-eval results file (no 'subpreferences')")
    if "scores" not in results:  # schema 2 kept each scorer's block at the top level
        scorers = results.get("suite", {}).get("config", {}).get("scorers") or {}
        results["scores"] = {name: results.pop(name) for name in scorers if name in results}
    return results


def load_samples(output_dir: str | os.PathLike) -> list[dict[str, Any]]:
    return [sample for _, sample in read_jsonl(Path(output_dir) / SAMPLES_FILE)]


def winrate_metrics(path: str, summary: dict[str, Any]) -> dict[str, float]:
    """The metrics of one win rate (a subpreference's or a set's `summary`), named `<name>/<path>`:
    winrate (mean), n (valid verdicts), ties, invalid (verdicts not counted), lc_winrate (length-controlled,
    when defined), length_words and baseline/length_words (mean response length in words)."""
    winrate, lc = summary.get("winrate"), summary.get("lc_winrate")
    if not winrate:
        return {}
    metrics = {f"{key}/{path}": float(winrate[key]) for key in ("n", "ties", "invalid")}
    if "mean" in winrate:
        metrics[f"winrate/{path}"] = winrate["mean"]
    if lc and lc["mean"] is not None:
        metrics[f"lc_winrate/{path}"] = lc["mean"]
    if lc:
        metrics[f"length_words/{path}"] = lc["lengths"]["model_mean"]
        metrics[f"baseline/length_words/{path}"] = lc["lengths"]["baseline_mean"]
    return metrics


def judge_metrics(path: str, summary: dict[str, Any]) -> dict[str, float]:
    """The unjudged counts and the judge's measured accuracy of one outcome set, named `<name>/<path>`:
    unjudged (and baseline/unjudged), judge_<class>_precision / judge_<class>_recall (held-out rates of the
    judge, e.g. judge_refusal_recall) and judge_unjudged (responses of its held-out set it left unjudged)."""
    metrics = {}
    for name, prefix in (("unjudged", ""), ("baseline_unjudged", "baseline/")):
        if name in summary:
            metrics[f"{prefix}unjudged/{path}"] = float(summary[name]["count"])
    accuracy = summary.get("judge_accuracy") or {}
    for label, rates in accuracy.items():
        if isinstance(rates, dict):
            for rate in ("precision", "recall"):
                if rates.get(rate) is not None:
                    metrics[f"judge_{label}_{rate}/{path}"] = float(rates[rate])
    if "unjudged" in accuracy:
        metrics[f"judge_unjudged/{path}"] = float(accuracy["unjudged"])
    return metrics


def flat_metrics(results: dict[str, Any]) -> dict[str, float]:
    """MLflow-style metric names -> values: `winrate_metrics` of every subpreference and set,
    `<entry>/<sub>/<set>` for every metric entry of a set, `judge_metrics`, `<scorer>/<value>` and
    `lm_eval/<task>/<metric>`; the baseline's values under a `baseline/` prefix."""
    metrics: dict[str, float] = {}
    for sub_name, sub in results["subpreferences"].items():
        metrics.update(winrate_metrics(sub_name, sub))
        for set_name, summary in sub["sets"].items():
            metrics.update(winrate_metrics(f"{sub_name}/{set_name}", summary))
            for key in set_entries(summary):
                for name, prefix in ((key, ""), (f"baseline_{key}", "baseline/")):
                    if "mean" in (summary.get(name) or {}):  # a rate over no judged response has none
                        metrics[f"{prefix}{key}/{sub_name}/{set_name}"] = summary[name]["mean"]
            metrics.update(judge_metrics(f"{sub_name}/{set_name}", summary))
    for side, prefix in (("model", ""), ("baseline", "baseline/")):
        for scorer, block in (results.get("scores") or {}).items():
            for key, value in block.get(side, {}).items():
                metrics[f"{prefix}{scorer}/{key}"] = value["mean"]
        for task, values in results.get("lm_eval", {}).get(side, {}).items():
            for key, value in values.items():
                metrics[f"{prefix}lm_eval/{task}/{key}"] = value
    return metrics
