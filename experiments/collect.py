"""Build the experiment's results from whatever cells are finished: tables, paired differences, charts.

Writes ``<out>/results/``: ``cells.csv`` (one row per cell and metric), ``heldout_items.jsonl`` (one row per cell
and held-out pair: the per-pair sums of :mod:`.heldout_metrics`), ``table.md`` (per category, each metric
per method: mean over seeds [95% t-interval] (n)), ``paired.md`` (X+PLOT - X paired by seed, for every method
with a base), ``charts/sensitivity_<category>_<param>.png``, ``diagnostic.md`` and ``charts/diagnostic_*.png``.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from experiments.charts import sensitivity_chart
from experiments.config import ExperimentConfig
from experiments.diagnostic_report import diagnostic_chart, diagnostic_markdown
from experiments.grid import Cell
from experiments.methods import METHODS
from experiments.runner import cell_state, flat_metrics
from experiments.seed_check import seed_warning
from experiments.statistics import paired_difference, t_interval

INTERVAL_NOTE = "mean over seeds [95% Student-t interval] (n seeds); NaN interval with one seed"
JUDGE_NOTE = (
    "`eval/<sub>/judged_winrate` comes from the suite's judge: with the offline SmolLM2-135M judge it is a smoke "
    "test, not evidence. `heldout/*` and `cost/*` are judge-free."
)


def finished_records(config: ExperimentConfig, cells: list[Cell]) -> list[dict[str, Any]]:
    return [cell_state(config, c).read("done") for c in cells if cell_state(config, c).finished("done")]


def _by(records, category: str, method: str, metric: str, main_only: bool = True) -> dict[int, float]:
    return {
        r["seed"]: flat_metrics(r)[metric]
        for r in records
        if r["category"] == category and r["method"] == method and (r["sweep"] is None or not main_only)
        and metric in flat_metrics(r)
    }  # fmt: skip


def _table(records, config: ExperimentConfig) -> str:
    lines = [f"# {config.name}: results ({INTERVAL_NOTE})", "", JUDGE_NOTE, ""]
    for category in config.categories:
        main = [r for r in records if r["category"] == category and r["sweep"] is None]
        metrics = sorted({m for r in main for m in flat_metrics(r)})
        methods = [m for m in config.methods if any(r["method"] == m for r in main)]
        if not methods:
            continue
        lines += [f"## {category}", "", "| metric | " + " | ".join(METHODS[m].label for m in methods) + " |"]
        lines.append("|---" * (len(methods) + 1) + "|")
        for metric in metrics:
            cells = [t_interval(list(_by(records, category, m, metric).values())).format() for m in methods]
            lines.append(f"| {metric} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _paired(records, config: ExperimentConfig) -> str:
    lines = ["# X+PLOT - X, paired by seed (mean [95% t-interval] (n pairs))", ""]
    for category in config.categories:
        for method in config.methods:
            base = METHODS[method].base
            if base is None or base not in config.methods:
                continue
            treated_rows = [r for r in records if r["category"] == category and r["method"] == method]
            metrics = sorted({m for r in treated_rows if r["sweep"] is None for m in flat_metrics(r)})
            lines += [
                f"## {category}: {METHODS[method].label} - {METHODS[base].label}",
                "",
                "| metric | difference |",
                "|---|---|",
            ]
            for metric in metrics:
                diff = paired_difference(
                    _by(records, category, method, metric), _by(records, category, base, metric)
                )
                lines.append(f"| {metric} | {diff.format()} |")
            lines.append("")
    return "\n".join(lines)


def _sensitivity(records, config: ExperimentConfig, charts: Path) -> list[Path]:
    written = []
    for parameter in config.sweeps:
        for category in config.categories:
            groups: dict[str, dict[str, dict[float, list[float]]]] = defaultdict(
                lambda: defaultdict(lambda: defaultdict(list))
            )
            for r in records:
                if r["category"] != category or (r["sweep"] and r["sweep"][0] != parameter):
                    continue
                if parameter != "lr" and parameter not in METHODS[r["method"]].uses:
                    continue
                for metric, value in flat_metrics(r).items():
                    groups[metric][r["method"]][r["hyperparameters"][parameter]].append(value)
            curves = {
                metric: {m: [(x, t_interval(v)) for x, v in pts.items()] for m, pts in by_method.items()}
                for metric, by_method in groups.items()
            }
            if curves:
                path = charts / f"sensitivity_{category}_{parameter}.png"
                written.append(sensitivity_chart(curves, parameter, category, path))
    return written


def _diagnostic(records, config: ExperimentConfig, out: Path) -> None:
    """DPO vs the DPO+PLOT variants, first seed, default hyperparameters: one table + chart per category."""
    sections = []
    for category in config.categories:
        main = [
            r
            for r in records
            if r["category"] == category and r["sweep"] is None and r["seed"] == config.seeds[0]
        ]
        chosen = [r for r in main if r["method"] == "dpo" or METHODS[r["method"]].base == "dpo"]
        if not chosen:
            continue
        entries = [dict(e, models=dict(e["models"])) for e in chosen[0]["diagnostic"]]
        if not entries:
            continue
        for r in chosen[1:]:
            for entry, other in zip(entries, r["diagnostic"], strict=False):
                entry["models"][r["method"]] = other["models"][r["method"]]
        title = f"{category}: next-token mass vs cost to the target (seed {config.seeds[0]})"
        sections.append(diagnostic_markdown(entries, title))
        diagnostic_chart(entries, out / "charts" / f"diagnostic_{category}.png", title)
    (out / "diagnostic.md").write_text("\n".join(sections) + "\n", encoding="utf-8")


def _cells_csv(records, path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["cell", "category", "method", "seed", "sweep", "metric", "value"])
        for r in records:
            sweep = f"{r['sweep'][0]}={r['sweep'][1]}" if r["sweep"] else ""
            for metric, value in sorted(flat_metrics(r).items()):
                writer.writerow([r["name"], r["category"], r["method"], r["seed"], sweep, metric, value])


def _items_jsonl(records, path: Path) -> None:
    """One line per cell and held-out pair: the per-pair sums every held-out metric is pooled from."""
    with open(path, "w", encoding="utf-8") as handle:
        for r in records:
            sweep = f"{r['sweep'][0]}={r['sweep'][1]}" if r["sweep"] else ""
            for item in r.get("heldout_items", []):
                cell = {
                    "cell": r["name"],
                    "category": r["category"],
                    "method": r["method"],
                    "seed": r["seed"],
                }
                handle.write(json.dumps({**cell, "sweep": sweep, **item}, sort_keys=True) + "\n")


def collect(config: ExperimentConfig, cells: list[Cell], tracker=None) -> Path:
    """Write the results folder from the finished cells (any subset); log it to the parent run; return it."""
    out = Path(config.out_dir) / "results"
    (out / "charts").mkdir(parents=True, exist_ok=True)
    records = finished_records(config, cells)
    header = f"<!-- {len(records)}/{len(cells)} cells finished -->\n" + seed_warning(records)
    (out / "table.md").write_text(header + _table(records, config) + "\n", encoding="utf-8")
    (out / "paired.md").write_text(header + _paired(records, config) + "\n", encoding="utf-8")
    _cells_csv(records, out / "cells.csv")
    _items_jsonl(records, out / "heldout_items.jsonl")
    _sensitivity(records, config, out / "charts")
    _diagnostic(records, config, out)
    print(f"[experiment] collected {len(records)}/{len(cells)} finished cells into {out}", flush=True)
    if tracker is not None:
        tracker.log_artifacts(out)
    return out
