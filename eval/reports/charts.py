"""PNG charts of a results dict: `winrate.png` (per-subpreference win rate with its 95% CI, 0.5 = parity) and
`quality.png` (every scorer's values, model vs baseline). Titles name both models; every bar carries its n,
and a degenerate interval (reading.degenerate_reason) is a hatched, faded bar labelled "interval degenerate"
rather than a bar whose missing error bar looks precise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plot_eval.reports.reading import MIN_SAMPLES, degenerate_reason, model_label, models_line, score_values

DEGENERATE_HATCH = "//"
MODEL_COLOR, BASELINE_COLOR = "#4C72B0", "#DD8452"


def _bar(ax, x: float, ci: dict[str, Any], color: str, name: str) -> None:
    """One bar at `x` of height ci["mean"], its CI as an error bar when it has width, and its n label."""
    degenerate = degenerate_reason(ci) is not None
    (bar,) = ax.bar(
        [x],
        [ci["mean"]],
        color=color,
        alpha=0.45 if degenerate else 1.0,
        hatch=DEGENERATE_HATCH if degenerate else None,
        edgecolor="black" if degenerate else color,
    )
    bar.set_gid(name)
    low, high = ci["mean"] - ci["ci_low"], ci["ci_high"] - ci["mean"]
    if low > 0 or high > 0:
        ax.errorbar([x], [ci["mean"]], yerr=[[low], [high]], fmt="none", ecolor="black", capsize=4)
    top = max(ci["ci_high"], ci["mean"])
    ax.annotate(
        f"n={ci['n']}" + ("\ninterval degenerate" if degenerate else ""),
        (x, top),
        xytext=(0, 3),
        textcoords="offset points",
        ha="center",
        va="bottom",
        fontsize=7,
    )


def _footnote(fig, cis: list[dict[str, Any]]) -> None:
    if any(degenerate_reason(ci) for ci in cis):
        fig.text(
            0.01,
            0.01,
            f"hatched: interval degenerate (n < {MIN_SAMPLES} or zero width)",
            fontsize=7,
            style="italic",
        )


def winrate_figure(results: dict[str, Any]):
    """The win-rate Figure, or None when no subpreference has a win rate."""
    from matplotlib.figure import Figure

    subs = [
        (name, sub["winrate"])
        for name, sub in results["subpreferences"].items()
        if (sub.get("winrate") or {}).get("mean") is not None
    ]
    if not subs:
        return None
    fig = Figure(figsize=(max(5.0, 1.2 * len(subs) + 1.5), 4.4))
    ax = fig.subplots()
    for x, (name, ci) in enumerate(subs):
        _bar(ax, x, ci, MODEL_COLOR, name)
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_xticks(range(len(subs)), [name for name, _ in subs], rotation=30, ha="right")
    ax.set_ylim(0, 1.2)  # room for the n labels above a win rate of 1
    ax.set_ylabel("win rate vs baseline (95% CI)")
    suite = results["suite"]
    ax.set_title(f"Win rate: {models_line(results)}\nsuite {suite['name']} v{suite['version']}", fontsize=9)
    _footnote(fig, [ci for _, ci in subs])
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def quality_figure(results: dict[str, Any]):
    """The Figure of every scorer's values, or None when the run has no scores."""
    from matplotlib.figure import Figure

    keys = score_values(results)
    if not keys:
        return None
    fig = Figure(figsize=(max(6.0, 2.4 * len(keys)), 3.8))
    axes = fig.subplots(1, len(keys), squeeze=False)
    cis = []
    for ax, (group, key) in zip(axes[0], keys, strict=True):
        for x, (side, color) in enumerate((("model", MODEL_COLOR), ("baseline", BASELINE_COLOR))):
            ci = (results["scores"][group].get(side) or {}).get(key)
            if ci and ci.get("mean") is not None:
                _bar(ax, x, ci, color, side)
                cis.append(ci)
        ax.set_xticks([0, 1], ["model", "baseline"])
        ax.set_title(f"{group}\n{key}", fontsize=9)
        ax.margins(y=0.2)
    models = results["models"]
    fig.suptitle(
        f"Response scores: model {model_label(models['model'])}, baseline {model_label(models['baseline'])}",
        fontsize=9,
    )
    _footnote(fig, cis)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


FIGURES = {"winrate.png": winrate_figure, "quality.png": quality_figure}


def write_charts(results: dict[str, Any], folder: Path) -> list[Path]:
    """Save every chart the results can fill into `folder`; returns the written paths (in FIGURES order)."""
    written = []
    for name, build in FIGURES.items():
        fig = build(results)
        if fig is not None:
            folder.mkdir(parents=True, exist_ok=True)
            fig.savefig(folder / name, dpi=100)  # a bare Figure: no pyplot state, no backend switch
            written.append(folder / name)
    return written
