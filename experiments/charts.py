"""Sensitivity charts: each key metric against a swept hyperparameter, mean over seeds with 95% t-intervals."""

from __future__ import annotations

import math
from pathlib import Path

from experiments.methods import METHODS
from experiments.statistics import Interval

KEY_METRICS = (
    "heldout/all/pref_accuracy",
    "heldout/all/reward_margin",
    "heldout/all/kl_per_token",
    "heldout/all/chosen_ppl_change",
    "heldout/all/entropy_change",
)


def sensitivity_chart(
    curves: dict[str, dict[str, list[tuple[float, Interval]]]], parameter: str, category: str, path: Path
) -> Path:
    """``curves[metric][method] = [(value, interval)]``: one panel per metric, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in KEY_METRICS if m in curves] or sorted(curves)
    figure, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3.4), squeeze=False)
    seeds = set()
    for axis, metric in zip(axes[0], metrics, strict=True):
        for method, points in sorted(curves[metric].items()):
            points = sorted(points)
            xs = [x for x, _ in points]
            means = [i.mean for _, i in points]
            lows = [0.0 if math.isnan(i.low) else i.mean - i.low for _, i in points]
            highs = [0.0 if math.isnan(i.high) else i.high - i.mean for _, i in points]
            seeds |= {i.n for _, i in points}
            axis.errorbar(xs, means, yerr=[lows, highs], marker="o", capsize=3, label=METHODS[method].label)
        axis.set_xscale("log" if all(x > 0 for x, _ in points) else "linear")
        axis.set_xlabel(parameter)
        axis.set_title(metric.split("/")[-1], fontsize=9)
    axes[0][0].legend(fontsize=7)
    n = "/".join(str(s) for s in sorted(seeds))
    figure.suptitle(
        f"{category}: sensitivity to {parameter} (mean, 95% t-interval, n={n} seeds)", fontsize=10
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
