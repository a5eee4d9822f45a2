"""Markdown report and PNG charts from a results dict (never from models: trackers only consume results).

Charts: `winrate.png` (per-subpreference win rate against the baseline with its CI as error bars, 0.5 =
parity line) and `quality.png` (fluency and coherence of model vs baseline, mean with CI).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from plot_eval.reports.results import atomic_write_text

REPORT_FILE = "report.md"
CHARTS_DIR = "charts"


def _fmt(ci: dict[str, float] | None, digits: int = 3) -> str:
    if not ci or "mean" not in ci:
        return "n/a" if not ci or not ci.get("invalid") else f"n/a ({ci['invalid']} invalid)"
    text = f"{ci['mean']:.{digits}f} [{ci['ci_low']:.{digits}f}, {ci['ci_high']:.{digits}f}] (n={ci['n']})"
    return text + (f", {ci['invalid']} invalid" if ci.get("invalid") else "")


def _winrate_table(results: dict[str, Any]) -> list[str]:
    lines = [
        "| subpreference | category | paper names it | win rate vs baseline [95% CI] |",
        "|---|---|---|---|",
    ]
    for name, sub in results["subpreferences"].items():
        named = "yes" if sub["paper_named"] else "no (this project's choice)"
        lines.append(f"| {name} | {sub['category']} | {named} | {_fmt(sub.get('winrate'))} |")
    return lines


_LABELS = {
    "accuracy": "accuracy",
    "asr": "attack success rate",
    "over_refusal": "over-refusal (refusals of harmless prompts)",
}


def _set_table(results: dict[str, Any]) -> list[str]:
    lines = ["| subpreference / set | metric | win rate | model | baseline |", "|---|---|---|---|---|"]
    for name, sub in results["subpreferences"].items():
        for set_name, summary in sub["sets"].items():
            metric = summary["metric"]
            outcome = metric in _LABELS  # pairwise sets have only the win rate
            model = summary.get(metric) if outcome else None
            baseline = summary.get(f"baseline_{metric}") if outcome else None
            label = _LABELS.get(metric, "pairwise judge")
            lines.append(
                f"| {name} / {set_name} | {label} | {_fmt(summary['winrate'])} | {_fmt(model)} | {_fmt(baseline)} |"
            )
            if "non_answer" in summary:
                lines.append(
                    f"| {name} / {set_name} | non-answers (empty / degenerate) | | "
                    f"{_fmt(summary['non_answer'])} | {_fmt(summary['baseline_non_answer'])} |"
                )
    return lines


def _quality_table(results: dict[str, Any]) -> list[str]:
    lines = ["| score | model | baseline |", "|---|---|---|"]
    for group in ("fluency", "coherence"):
        block = results.get(group) or {}
        for key in sorted(block.get("model", {})):
            lines.append(
                f"| {group}/{key} | {_fmt(block['model'][key])} | {_fmt(block['baseline'].get(key))} |"
            )
    return lines


def _lm_eval_table(results: dict[str, Any]) -> list[str]:
    block = results.get("lm_eval") or {}
    if not block.get("model"):
        return []
    lines = ["", "## lm-eval (local tasks)", "", "| task / metric | model | baseline |", "|---|---|---|"]
    for task, values in block["model"].items():
        for key, value in values.items():
            base = block.get("baseline", {}).get(task, {}).get(key)
            lines.append(f"| {task} / {key} | {value:.4f} | {'n/a' if base is None else f'{base:.4f}'} |")
    return lines


def render_markdown(results: dict[str, Any], charts: list[str] | None = None) -> str:
    suite = results["suite"]
    models = results["models"]
    lines = [
        f"# Evaluation: suite `{suite['name']}` v{suite['version']}",
        "",
        f"- model: `{models['model']['name']}` (sha256 {models['model']['fingerprint'][:12]})",
        f"- baseline: `{models['baseline']['name']}` (sha256 {models['baseline']['fingerprint'][:12]})",
        f"- finished: {results.get('finished_at', 'n/a')}; seeds: {results.get('seeds')}",
        "- win rate: share of prompts where the model's response is preferred over the baseline's (ties = 0.5);"
        " 0.5 = parity. Intervals are 95% bootstrap CIs.",
        "",
        "## Win rate per subpreference",
        "",
        *_winrate_table(results),
        "",
        "## Prompt sets",
        "",
        *_set_table(results),
        "",
        "## Fluency and coherence",
        "",
        *_quality_table(results),
        *_lm_eval_table(results),
    ]
    for chart in charts or []:
        lines += ["", f"![{Path(chart).stem}]({chart})"]
    return "\n".join(lines) + "\n"


def _winrate_chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    subs = [
        (n, s["winrate"])
        for n, s in results["subpreferences"].items()
        if (s.get("winrate") or {}).get("mean") is not None
    ]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(subs) + 1), 3.6))
    means = [ci["mean"] for _, ci in subs]
    errors = [[ci["mean"] - ci["ci_low"] for _, ci in subs], [ci["ci_high"] - ci["mean"] for _, ci in subs]]
    ax.bar(range(len(subs)), means, yerr=errors, capsize=4, color="#4C72B0")
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_xticks(range(len(subs)), [name for name, _ in subs], rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("win rate vs baseline (95% CI)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _quality_chart(results: dict[str, Any], path: Path) -> bool:
    import matplotlib.pyplot as plt

    keys = [(g, k) for g in ("fluency", "coherence") for k in sorted((results.get(g) or {}).get("model", {}))]
    if not keys:
        return False
    fig, axes = plt.subplots(1, len(keys), figsize=(2.3 * len(keys), 3.2), squeeze=False)
    for ax, (group, key) in zip(axes[0], keys, strict=True):
        cis = [results[group][side][key] for side in ("model", "baseline")]
        errors = [[c["mean"] - c["ci_low"] for c in cis], [c["ci_high"] - c["mean"] for c in cis]]
        ax.bar([0, 1], [c["mean"] for c in cis], yerr=errors, capsize=4, color=["#4C72B0", "#DD8452"])
        ax.set_xticks([0, 1], ["model", "baseline"])
        ax.set_title(f"{group}\n{key}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def write_report(results: dict[str, Any], output_dir: str | os.PathLike) -> dict[str, Any]:
    """Write charts/*.png and report.md into `output_dir`; returns {"report": path, "charts": [paths]}."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    output_dir = Path(output_dir)
    (output_dir / CHARTS_DIR).mkdir(parents=True, exist_ok=True)
    charts = []
    if any((s.get("winrate") or {}).get("mean") is not None for s in results["subpreferences"].values()):
        _winrate_chart(results, output_dir / CHARTS_DIR / "winrate.png")
        charts.append(f"{CHARTS_DIR}/winrate.png")
    if _quality_chart(results, output_dir / CHARTS_DIR / "quality.png"):
        charts.append(f"{CHARTS_DIR}/quality.png")
    report = atomic_write_text(output_dir / REPORT_FILE, render_markdown(results, charts))
    return {"report": report, "charts": [output_dir / c for c in charts]}
