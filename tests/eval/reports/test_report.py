"""Markdown report and PNG charts from a results dict."""

from __future__ import annotations

from plot_eval.reports.report import render_markdown, write_report


def test_report_markdown_and_charts(synthetic_run):
    results, _, output_dir = synthetic_run
    written = write_report(results, output_dir)
    text = written["report"].read_text()
    assert "| helpfulness | human_values | yes | 0.625 [" in text
    assert "(n=8, ties=2, invalid=0; degenerate interval: n=8 < 10) | 0.625 [" in text
    assert "(zero_length_spread; degenerate interval: n=8 < 10) | 2.0 / 2.0 |" in text
    assert "| harmlessness | human_values | no (this project's choice) |" in text
    assert "| harmlessness / harmbench | attack success rate |" in text
    # every entry: the model refuses 3 of 4
    assert "| harmlessness / harmbench | refusals | | | | 0.750 [" in text
    assert "Lower is better for: attack success rate, over-refusal (refusals of harmless prompts)." in text
    assert "| fluency/perplexity | 11.500 [" in text and "plot_gsm8k / exact_match_final_number" in text
    for chart in written["charts"]:
        assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 1000
    assert {c.name for c in written["charts"]} == {"winrate.png", "quality.png"}
    assert "![winrate](charts/winrate.png)" in text


def test_report_without_quality_scores(synthetic_run):
    results, _, _ = synthetic_run
    results = {k: v for k, v in results.items() if k not in ("scores", "lm_eval")}
    text = render_markdown(results)
    assert "## Win rate per subpreference" in text and "lm-eval" not in text


def test_report_names_both_models_and_says_which_intervals_are_degenerate(synthetic_run):
    """Synthetic sets have 4 samples each (n=4 < 10); perplexity varies over all samples (a real interval),
    distinct_2 is constant (zero width)."""
    results, samples, _ = synthetic_run
    results["subpreferences"]["helpfulness"]["winrate"] = {
        "mean": 0.6, "ci_low": 0.45, "ci_high": 0.75, "n": 40, "ties": 3, "invalid": 0
    }  # fmt: skip
    text = render_markdown(results)
    assert "**model-a (aaaaaaaa) vs base (bbbbbbbb)**" in text.splitlines()[2]
    assert "fewer than 10 samples or has zero width" in text
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert "| 0.600 [0.450, 0.750] (n=40, ties=3, invalid=0) |" in rows["helpfulness"]  # precise: no mark
    assert "(n=4, ties=1, invalid=0; degenerate interval: n=4 < 10)" in rows["math"]
    assert f"(n={len(samples)}; degenerate interval: zero width)" in rows["fluency/distinct_2"]
    assert "degenerate" not in rows["fluency/perplexity"]
