"""Markdown report and PNG charts from a results dict (never from models). Every interval comes with its n, and
a degenerate one (reports/reading.py) is marked in the text as the charts mark it with a hatched bar."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from plot_eval.reports.charts import write_charts
from plot_eval.reports.console import judge_accuracy_text
from plot_eval.reports.reading import (
    DEGENERATE_RULE,
    degenerate_reason,
    entry_title,
    metric_notes,
    models_line,
    score_values,
    set_entries,
)
from plot_eval.reports.results import atomic_write_text

REPORT_FILE = "report.md"
CHARTS_DIR = "charts"


def _fmt(ci: dict[str, Any] | None, *, winrate: bool = False) -> str:
    """An interval (a metric entry, a score, or a win rate with its ties and invalid verdicts) with its n, and
    the reason when it is degenerate."""
    if not ci or not (winrate or "mean" in ci):
        return "n/a"
    head = f"{ci['mean']:.3f} [{ci['ci_low']:.3f}, {ci['ci_high']:.3f}] " if "mean" in ci else "n/a "
    counts = f"n={ci['n']}, ties={ci['ties']}, invalid={ci['invalid']}" if winrate else f"n={ci['n']}"
    reason = degenerate_reason(ci)
    mark = f"; degenerate interval: {reason}" if reason else ""
    return f"{head}({counts}{mark})"


def _fmt_lc(lc: dict[str, Any] | None) -> str:
    """Length-controlled win rate [CI] with its flag, then mean lengths model / baseline in words."""
    if not lc:
        return "n/a | n/a"
    if lc["mean"] is None:
        value = f"undefined ({lc['flag']})"
    else:
        ci = "" if lc["ci_low"] is None else f" [{lc['ci_low']:.3f}, {lc['ci_high']:.3f}]"
        reason = degenerate_reason(lc) if lc["ci_low"] is not None else None
        notes = [note for note in (lc["flag"], reason and f"degenerate interval: {reason}") if note]
        value = f"{lc['mean']:.3f}{ci}" + (f" ({'; '.join(notes)})" if notes else "")
        if lc.get("undefined_resamples"):
            value += f", {lc['undefined_resamples']} resamples without a finite fit"
    lengths = lc["lengths"]
    return f"{value} | {lengths['model_mean']:.1f} / {lengths['baseline_mean']:.1f}"


def _winrate_table(results: dict[str, Any]) -> list[str]:
    lines = [
        "| subpreference | category | paper names it | win rate vs baseline [95% CI] "
        "| length-controlled [95% CI] | words model / baseline |",
        "|---|---|---|---|---|---|",
    ]
    for name, sub in results["subpreferences"].items():
        named = "yes" if sub["paper_named"] else "no (this project's choice)"
        lines.append(
            f"| {name} | {sub['category']} | {named} | {_fmt(sub.get('winrate'), winrate=True)} "
            f"| {_fmt_lc(sub.get('lc_winrate'))} |"
        )
    return lines


def _set_table(results: dict[str, Any]) -> list[str]:
    """One row per set (its metric's own entry next to the win rate), then a row per further entry."""
    lines = [
        "| subpreference / set | metric | win rate | length-controlled | words model / baseline | model | baseline |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, sub in results["subpreferences"].items():
        for set_name, summary in sub["sets"].items():
            metric = summary["metric"]
            lines.append(
                f"| {name} / {set_name} | {entry_title(summary, metric)} | {_fmt(summary['winrate'], winrate=True)} "
                f"| {_fmt_lc(summary.get('lc_winrate'))} | {_fmt(summary.get(metric))} "
                f"| {_fmt(summary.get(f'baseline_{metric}'))} |"
            )
            for entry in set_entries(summary):
                if entry != metric:
                    lines.append(
                        f"| {name} / {set_name} | {entry_title(summary, entry)} | | | | "
                        f"{_fmt(summary[entry])} | {_fmt(summary.get(f'baseline_{entry}'))} |"
                    )
            lines += _judge_rows(f"{name} / {set_name}", summary)
    return lines


def _judge_rows(where: str, summary: dict[str, Any]) -> list[str]:
    """Unjudged counts and the judge's measured accuracy under an outcome set's row."""
    rows = []
    if "unjudged" in summary:
        model, baseline = summary["unjudged"], summary["baseline_unjudged"]
        rows.append(
            f"| {where} | unjudged (not in the rates) | | | | {model['count']} of {model['n']} "
            f"| {baseline['count']} of {baseline['n']} |"
        )
    if "judge_accuracy" in summary:
        rows.append(
            f"| {where} | judge accuracy | {judge_accuracy_text(summary['judge_accuracy'])} | | | | |"
        )
    return rows


def _lower_is_better(results: dict[str, Any]) -> list[str]:
    """A line naming the metrics whose value is better when lower (their `higher_is_better` is false)."""
    sets = [s for sub in results["subpreferences"].values() for s in sub["sets"].values()]
    titles = dict.fromkeys(entry_title(s, s["metric"]) for s in sets if s.get("higher_is_better") is False)
    return ["", f"Lower is better for: {', '.join(titles)}."] if titles else []


def _quality_table(results: dict[str, Any]) -> list[str]:
    lines = ["| score | model | baseline |", "|---|---|---|"]
    for scorer, key in score_values(results):
        block = results["scores"][scorer]
        lines.append(f"| {scorer}/{key} | {_fmt(block['model'][key])} | {_fmt(block['baseline'].get(key))} |")
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


def _skipped_section(skipped: list[dict[str, Any]]) -> list[str]:
    if not skipped:
        return []
    lines = [
        "",
        f"## Skipped rows ({len(skipped)}, unreadable by their judge)",
        "",
        "| set | id | row | reason |",
        "|---|---|---|---|",
    ]
    lines += [f"| {s['set']} | {s['id']} | {s.get('row')} | {s['reason']} |" for s in skipped]
    return lines


def render_markdown(results: dict[str, Any], charts: list[str] | None = None) -> str:
    suite = results["suite"]
    models = results["models"]
    lines = [
        f"# Evaluation: suite `{suite['name']}` v{suite['version']}",
        "",
        f"**{models_line(results)}** (model vs baseline: folder and first 8 hex of the sha256 fingerprint)",
        "",
        f"- model: `{models['model']['name']}` (sha256 {models['model']['fingerprint'][:12]})",
        f"- baseline: `{models['baseline']['name']}` (sha256 {models['baseline']['fingerprint'][:12]})",
        f"- finished: {results.get('finished_at', 'n/a')}; seeds: {results.get('seeds')}",
        "- win rate: share of prompts where the model's response is preferred over the baseline's (ties = 0.5);"
        " 0.5 = parity. Intervals are 95% bootstrap CIs. n = valid verdicts; invalid verdicts are not counted.",
        f"- {DEGENERATE_RULE}",
        "- length-controlled: the win rate a logistic model of the verdict on tanh(length difference / its std)"
        " predicts at equal lengths (AlpacaEval 2); lengths in whitespace-separated words.",
        "",
        "## Win rate per subpreference",
        "",
        *_winrate_table(results),
        "",
        "## Prompt sets",
        "",
        *_set_table(results),
        *_lower_is_better(results),
        *[line for note in metric_notes(results) for line in ("", note + ".")],
        *_skipped_section(results.get("skipped") or []),
        "",
        "## Response scores",
        "",
        *_quality_table(results),
        *_lm_eval_table(results),
    ]
    for chart in charts or []:
        lines += ["", f"![{Path(chart).stem}]({chart})"]
    return "\n".join(lines) + "\n"


def write_report(results: dict[str, Any], output_dir: str | os.PathLike) -> dict[str, Any]:
    """Write charts/*.png and report.md into `output_dir`; returns {"report": path, "charts": [paths]}."""
    output_dir = Path(output_dir)
    charts = write_charts(results, output_dir / CHARTS_DIR)
    relative = [f"{CHARTS_DIR}/{chart.name}" for chart in charts]
    report = atomic_write_text(output_dir / REPORT_FILE, render_markdown(results, relative))
    return {"report": report, "charts": charts}
