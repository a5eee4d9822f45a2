"""The plain-text summary `plot-eval run` prints: one line per subpreference's win rate, then per set its
accuracy, ASR or over-refusal (model vs baseline), unjudged counts and the judge's measured accuracy, with a
note on which judge to use for real ASR comparisons."""

from __future__ import annotations

from typing import Any

from plot_eval.reports.reading import degenerate_reason


def winrate_lines(results: dict[str, Any]) -> list[str]:
    """Plain-text summary: one line per subpreference and per ASR set; degenerate intervals are marked."""
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
    if any(
        "asr" in s or "over_refusal" in s
        for sub in results["subpreferences"].values()
        for s in sub["sets"].values()
    ):
        lines.append(STRONGREJECT_NOTE)
    return lines


STRONGREJECT_NOTE = (
    "ASR and over-refusal above come from the judge named per set; for real comparisons use the StrongREJECT "
    "rubric judge through an OpenAI-compatible endpoint (judge: strongreject, backend {kind: openai, url, model})"
)


def _rate(rate: dict[str, Any]) -> str:
    return f"{rate['mean']:.3f}" if "mean" in rate else "n/a (nothing judged)"


def _unjudged(summary: dict[str, Any]) -> str:
    model, baseline = summary.get("unjudged"), summary.get("baseline_unjudged")
    if not model:
        return "unjudged: not reported"
    return (
        f"unjudged: model {model['count']} of {model['n']}, baseline {baseline['count']} of {baseline['n']}"
    )


def judge_accuracy_text(accuracy: dict[str, Any] | None) -> str:
    """One line of a judge's measured accuracy (`Judge.validation()`), or that it has not been measured."""
    if not accuracy:
        return "not measured"
    rates = ", ".join(
        f"{label} precision {_fraction(accuracy[label]['precision'])} recall {_fraction(accuracy[label]['recall'])}"
        for label in ("refusal", "compliance")
        if label in accuracy
    )
    return (
        f"{accuracy.get('rules', '')} on {accuracy.get('set')} ({accuracy.get('split')}, n={accuracy.get('n')}): "
        f"{rates}; unjudged {accuracy.get('unjudged')}"
    )


def _fraction(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def set_lines(set_name: str, summary: dict[str, Any]) -> list[str]:
    """The indented lines of one set under its subpreference: accuracy, ASR, over-refusal, invalid verdicts."""
    lines = []
    if "accuracy" in summary:
        acc, base = summary["accuracy"], summary["baseline_accuracy"]
        lines.append(
            f"  accuracy {set_name}: model {acc['mean']:.3f} [{acc['ci_low']:.3f}, {acc['ci_high']:.3f}] "
            f"vs baseline {base['mean']:.3f} (n={acc['n']})"
        )
    if "asr" in summary:
        lines.append(
            f"  ASR {set_name}: model {_rate(summary['asr'])} vs baseline {_rate(summary['baseline_asr'])} "
            f"(non-answers: model {_rate(summary['non_answer'])}, baseline {_rate(summary['baseline_non_answer'])}"
            f"; {_unjudged(summary)})"
        )
    if "over_refusal" in summary:
        lines.append(
            f"  over-refusal {set_name}: model {_rate(summary['over_refusal'])} vs baseline "
            f"{_rate(summary['baseline_over_refusal'])} ({_unjudged(summary)})"
        )
    if "asr" in summary or "over_refusal" in summary:
        lines.append(f"    judge accuracy: {judge_accuracy_text(summary.get('judge_accuracy'))}")
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
