"""The plain text `plot-eval run` prints: one line per subpreference's win rate, then per set its metric's
entries (accuracy, ASR, over-refusal or any registered metric: model vs baseline), unjudged counts and the
judge's measured accuracy, the notes the metrics carry, then where the results and the MLflow run are."""

from __future__ import annotations

from typing import Any

from plot_eval.reports.reading import degenerate_reason, entry_title, metric_notes, set_entries


def winrate_lines(results: dict[str, Any]) -> list[str]:
    """Plain-text summary: one line per subpreference, its sets' entries below it; degenerate intervals are
    marked."""
    lines = [
        f"{'subpreference':<14} {'win rate':>8}  95% CI            n  ties  invalid  LC win rate",
        "-" * 70,
    ]
    for name, sub in results["subpreferences"].items():
        ci, lc = sub.get("winrate"), sub.get("lc_winrate") or {}
        if ci and "mean" in ci:
            reason = degenerate_reason(ci)
            lc_text = f"{lc['mean']:.3f}" if lc.get("mean") is not None else "n/a"
            lines.append(
                f"{name:<14} {ci['mean']:>8.3f}  [{ci['ci_low']:.3f}, {ci['ci_high']:.3f}]  {ci['n']:>4}  "
                f"{ci['ties']:>4}  {ci['invalid']:>7}  {lc_text}"
                + (f" ({lc['flag']})" if lc.get("flag") else "")
                + (f"  (interval degenerate: {reason})" if reason else "")
            )
        for set_name, summary in sub["sets"].items():
            lines += set_lines(set_name, summary)
    lines += skipped_lines(results.get("skipped") or [])
    return lines + metric_notes(results)


def run_lines(results: dict[str, Any]) -> list[str]:
    """What `plot-eval run` prints at the end: the summary, the results file, and the MLflow run (or why
    it was not logged)."""
    lines = [*winrate_lines(results), f"results: {results['output_dir']}/results.json"]
    tracking = results.get("tracking") or {}
    if "run_id" in tracking:
        uri = tracking["tracking_uri"]
        lines.append(f"mlflow: {uri} run {tracking['run_id']}  (browse: mlflow ui --backend-store-uri {uri})")
    elif "error" in tracking:
        lines.append(f"mlflow: NOT logged ({tracking['error']})")
    return lines


def _rate(rate: dict[str, Any] | None, *, interval: bool = False) -> str:
    if not rate or "mean" not in rate:
        return "n/a (nothing judged)"
    return f"{rate['mean']:.3f}" + (f" [{rate['ci_low']:.3f}, {rate['ci_high']:.3f}]" if interval else "")


def _unjudged(summary: dict[str, Any]) -> str:
    model, baseline = summary.get("unjudged"), summary.get("baseline_unjudged")
    if not model:
        return "unjudged: not reported"
    return (
        f"unjudged: model {model['count']} of {model['n']}, baseline {baseline['count']} of {baseline['n']}"
    )


def judge_accuracy_text(accuracy: dict[str, Any] | None) -> str:
    """One line of a judge's measured accuracy (`Judge.validation()`: precision and recall of each label it
    measured), or that it has not been measured."""
    if not accuracy:
        return "not measured"
    rates = ", ".join(
        f"{label} precision {_fraction(accuracy[label]['precision'])} recall {_fraction(accuracy[label]['recall'])}"
        for label in accuracy
        if isinstance(accuracy[label], dict) and "precision" in accuracy[label]
    )
    return (
        f"{accuracy.get('rules', '')} on {accuracy.get('set')} ({accuracy.get('split')}, n={accuracy.get('n')}): "
        f"{rates}; unjudged {accuracy.get('unjudged')}"
    )


def _fraction(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def set_lines(set_name: str, summary: dict[str, Any]) -> list[str]:
    """The indented lines of one set under its subpreference: each metric entry (model with its interval vs
    baseline), unjudged counts, the judge's measured accuracy, invalid verdicts."""
    lines = []
    for entry in set_entries(summary):
        model, n = summary[entry], summary[entry]["n"]
        lines.append(
            f"  {entry_title(summary, entry)} {set_name}: model {_rate(model, interval=True)} "
            f"vs baseline {_rate(summary.get(f'baseline_{entry}'))} (n={n})"
        )
    if "unjudged" in summary:
        lines.append(f"    {_unjudged(summary)}")
    if "judge_accuracy" in summary:
        lines.append(f"    judge accuracy: {judge_accuracy_text(summary['judge_accuracy'])}")
    invalid = summary["winrate"]["invalid"]
    if invalid:
        lines.append(f"  {set_name}: {invalid} invalid judge verdict(s), not counted")
    return lines


def skipped_lines(skipped: list[dict[str, Any]]) -> list[str]:
    """The rows left out as unreadable (sets with `unreadable: skip`): a count, then one line each."""
    if not skipped:
        return []
    lines = [f"skipped {len(skipped)} unreadable row(s) (unreadable: skip):"]
    for entry in skipped:
        where = f"row {entry['row']}" if entry.get("row") is not None else f"prompt {entry['id']!r}"
        lines.append(f"  {entry['set']}: {entry['file']}: {where}: {entry['reason']}")
    return lines
