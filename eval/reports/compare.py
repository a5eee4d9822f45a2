"""Side-by-side comparison of finished evaluations (e.g. DPO vs DPO+PLOT against the same baseline): the
metrics table of every run, and the paired bootstrap difference (B - A) of each later run against the first
on the same prompts (`plot_eval.aggregation.paired`)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from plot_eval.reports.reading import degenerate_reason, metric_notes
from plot_eval.reports.results import SAMPLES_FILE, flat_metrics, load_results, load_samples

_WINRATE_PREFIXES = ("winrate/", "lc_winrate/", "n/", "ties/", "invalid/")


def run_label(path: str | os.PathLike, results: dict[str, Any]) -> str:
    """A short, MLflow-safe label: the run folder name (or the results file's folder)."""
    return re.sub(r"[^A-Za-z0-9_.\- ]", "_", run_folder(path).name or results["suite"]["name"])


def comparison_table(paths: list[str | os.PathLike]) -> dict[str, dict[str, float | None]]:
    """{label: {metric: value}} over the union of metric names (None where a run lacks one)."""
    runs = {}
    for path in paths:
        results = load_results(path)
        label = run_label(path, results)
        while label in runs:
            label += "'"
        runs[label] = flat_metrics(results)
    names = sorted({name for metrics in runs.values() for name in metrics}, key=_metric_order)
    return {label: {name: metrics.get(name) for name in names} for label, metrics in runs.items()}


def comparison_notes(paths: list[str | os.PathLike]) -> str:
    """The notes the runs' metrics carry, one line each in parentheses ("" when none)."""
    notes = dict.fromkeys(note for path in paths for note in metric_notes(load_results(path)))
    return "".join(f"({note}; judge_* rows: the judge's measured accuracy)\n" for note in notes)


def _metric_order(name: str) -> tuple[int, str]:
    """Win rates first, then the model's other metrics, its lm-eval metrics, and the baseline's last."""
    if name.startswith(_WINRATE_PREFIXES):
        return 0, name
    return (3 if name.startswith("baseline/") else 2 if name.startswith("lm_eval/") else 1), name


def render_table(table: dict[str, dict[str, float | None]], *, markdown: bool = True) -> str:
    """Metrics as rows, runs as columns; markdown pipes or aligned plain text."""
    labels = list(table)
    names = list(next(iter(table.values()))) if table else []
    rows = [["metric", *labels]]
    for name in names:
        rows.append(
            [name, *("-" if table[lab][name] is None else f"{table[lab][name]:.4f}" for lab in labels)]
        )
    if markdown:
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows[1:]]) + "\n"
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return (
        "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)
        + "\n"
    )


def run_folder(path: str | os.PathLike) -> Path:
    """The folder holding a run's results.json and samples.jsonl (given either the folder or the file)."""
    path = Path(path)
    return path if path.is_dir() else path.parent


def paired_comparisons(paths: list[str | os.PathLike]) -> list[dict[str, Any]]:
    """`paired_comparison` of every later run (B) against the first (A), on the prompts of samples.jsonl.

    The bootstrap settings (resamples, confidence, seed) are the first run's suite `scoring`."""
    from plot_eval.aggregation.paired import paired_comparison
    from plot_eval.suite import ScoringSettings

    runs = []
    for path in paths:
        results = load_results(path)
        if not (run_folder(path) / SAMPLES_FILE).is_file():
            raise FileNotFoundError(
                f"{run_folder(path) / SAMPLES_FILE}: missing; a paired compare needs each run's samples "
                "(pass --unpaired for the metrics table alone)"
            )
        runs.append((run_label(path, results), results, load_samples(run_folder(path))))
    (label_a, results_a, samples_a), *others = runs
    scoring = ScoringSettings(**results_a["suite"]["config"]["scoring"])
    return [
        paired_comparison(results_a, samples_a, results_b, samples_b, (label_a, label_b), scoring)
        for label_b, results_b, samples_b in others
    ]


def _paired_rows(comparison: dict[str, Any]):
    for sub, block in comparison["subpreferences"].items():
        if block["pooled"] is not None:
            yield f"{sub} (pooled)", block["pooled"]
        for set_name, difference in block["sets"].items():
            yield f"{sub}/{set_name}", difference


def _fmt_difference(d: dict[str, Any]) -> str:
    if d["mean"] is None:
        return "n/a (no pair with two valid verdicts)"
    text = f"{d['mean']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]"
    reason = degenerate_reason(d)  # the report's rule: n < 10 or zero width
    notes = [reason] if reason and reason != "zero width" else []
    notes += ["zero width: every paired difference is equal"] if d["degenerate"] else []
    return text + (f" (degenerate interval: {', '.join(notes)})" if notes else "")


def render_paired(comparison: dict[str, Any]) -> str:
    """Markdown table of one paired comparison: win rates of A and B on the paired prompts, B - A [CI]."""
    a, b = comparison["a"], comparison["b"]
    lines = [
        f"## Paired difference {b} minus {a} (B - A > 0: {b} wins more often against the baseline)",
        "",
        f"{comparison['n_prompts']} prompts matched by id (subpreference/set/item id); 95% paired bootstrap "
        "CI resampling prompts; n = pairs where both verdicts are valid."
        + (
            f" Warning: the baseline response differs on {comparison['baseline_responses_differ']} prompts."
            if comparison["baseline_responses_differ"]
            else ""
        ),
        "",
        f"| subpreference / set | {a} win rate | {b} win rate | {b} - {a} [95% CI] | n | invalid pairs |",
        "|---|---|---|---|---|---|",
    ]
    for name, d in _paired_rows(comparison):
        rates = [f"{d[k]:.3f}" if d.get(k) is not None else "n/a" for k in ("winrate_a", "winrate_b")]
        lines.append(
            f"| {name} | {rates[0]} | {rates[1]} | {_fmt_difference(d)} | {d['n']} | {d['invalid_pairs']} |"
        )
    return "\n".join(lines) + "\n"


def paired_metrics(comparison: dict[str, Any]) -> dict[str, float]:
    """MLflow names `paired/<B>_minus_<A>/<diff|ci_low|ci_high|n|invalid_pairs>/<sub>[/<set>]`."""
    prefix = f"paired/{comparison['b']}_minus_{comparison['a']}"
    metrics = {}
    for row, d in _paired_rows(comparison):
        name = row.removesuffix(" (pooled)")
        for key, stat in (("mean", "diff"), ("ci_low", "ci_low"), ("ci_high", "ci_high"), ("n", "n")):
            if d.get(key) is not None:
                metrics[f"{prefix}/{stat}/{name}"] = float(d[key])
        metrics[f"{prefix}/invalid_pairs/{name}"] = float(d["invalid_pairs"])
    return metrics
