"""The distribution diagnostic as a markdown table and a chart (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _cell(text: str) -> str:
    """``repr`` of a token or prompt, safe inside a markdown table cell."""
    return repr(text).replace("|", "\\|")


def diagnostic_markdown(entries: list[dict[str, Any]], title: str) -> str:
    """Per prompt: p(target) and W per model, then each model's top tokens with probability and cost."""
    lines = [f"## {title}", ""]
    for number, entry in enumerate(entries, start=1):
        lines += [f"### prompt {number}: {_cell(entry['prompt'])} -> target {_cell(entry['target'])}", ""]
        lines += ["| model | p(target) | W = E_p[C(v, target)] | top tokens (p, cost) |", "|---|---|---|---|"]
        for label, summary in entry["models"].items():
            tops = ", ".join(
                f"{_cell(t['token'])} ({t['prob']:.3f}, {t['cost']:.2f})" for t in summary["top"]
            )
            lines.append(
                f"| {label} | {summary['target_prob']:.4f} | {summary['expected_cost']:.4f} | {tops} |"
            )
        lines.append("")
    return "\n".join(lines)


def diagnostic_chart(entries: list[dict[str, Any]], path: Path, title: str) -> Path:
    """One panel per prompt: each model's top tokens as (cost to target, probability) points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = max(1, len(entries))
    figure, axes = plt.subplots(1, columns, figsize=(4 * columns, 3.5), squeeze=False)
    for axis, entry in zip(axes[0], entries, strict=False):
        for label, summary in entry["models"].items():
            axis.scatter(
                [t["cost"] for t in summary["top"]], [t["prob"] for t in summary["top"]], label=label, s=18
            )
        axis.set_title(f"target {entry['target']!r}", fontsize=9)
        axis.set_xlabel("cost to target (1 - cos)")
        axis.set_ylabel("probability")
    axes[0][0].legend(fontsize=7)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
