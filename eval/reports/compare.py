"""Side-by-side comparison of finished evaluations (e.g. DPO vs DPO+PLOT against the same baseline)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from plot_eval.reports.results import flat_metrics, load_results

_MAIN_PREFIXES = (
    "winrate/",
    "lc_winrate/",
    "n/",
    "ties/",
    "invalid/",
    "asr/",
    "accuracy/",
    "fluency/",
    "coherence/",
    "lm_eval/",
    "baseline/",
)


def run_label(path: str | os.PathLike, results: dict[str, Any]) -> str:
    """A short, MLflow-safe label: the run folder name (or the results file's folder)."""
    path = Path(path)
    name = path.name if path.is_dir() else path.parent.name
    return re.sub(r"[^A-Za-z0-9_.\- ]", "_", name or results["suite"]["name"])


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


def _metric_order(name: str) -> tuple[int, str]:
    rank = next(
        (i for i, prefix in enumerate(_MAIN_PREFIXES) if name.startswith(prefix)), len(_MAIN_PREFIXES)
    )
    return rank, name


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
