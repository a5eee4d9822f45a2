"""Markdown report and PNG charts from a results dict."""

from __future__ import annotations

from plot_eval.reports.report import render_markdown, write_report


def test_report_markdown_and_charts(synthetic_run):
    results, _, output_dir = synthetic_run
    written = write_report(results, output_dir)
    text = written["report"].read_text()
    assert "| helpfulness | human_values | yes | 0.625 [" in text
    assert "| harmlessness | human_values | no (this project's choice) |" in text
    assert "| harmlessness / harmbench | attack success rate |" in text
    assert "| fluency/perplexity | 11.500 [" in text and "plot_gsm8k / exact_match_final_number" in text
    for chart in written["charts"]:
        assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 1000
    assert {c.name for c in written["charts"]} == {"winrate.png", "quality.png"}
    assert "![winrate](charts/winrate.png)" in text


def test_report_without_quality_scores(synthetic_run):
    results, _, _ = synthetic_run
    results = {k: v for k, v in results.items() if k not in ("fluency", "coherence", "lm_eval")}
    text = render_markdown(results)
    assert "## Win rate per subpreference" in text and "lm-eval" not in text
