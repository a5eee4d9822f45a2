"""`plot-eval compare A B` end to end on hand-built runs: the paired table, MLflow logging, clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plot_eval.cli import main
from plot_eval.reports.results import write_results, write_samples

QUICK = Path(__file__).resolve().parents[3] / "configs" / "eval" / "quick.yaml"
QUICK_SETS = 13  # prompt sets of the quick suite (checked in _run)


def _run(factory, folder, change_win=None, baseline_fingerprint=None):
    """A synthetic finished run (every set: wins 1, 1, 0.5, 0) with its wins changed by `change_win`."""
    from plot_eval.aggregation.aggregate import summarize_run
    from plot_eval.suite import load_suite

    suite = load_suite(QUICK)
    assert sum(len(sub.sets) for sub in suite.subpreferences) == QUICK_SETS
    results, samples = factory(folder, label=folder.name)
    for sample in samples:
        sample["win"] = change_win(sample["win"]) if change_win else sample["win"]
    results.update(summarize_run(suite, samples, results["lm_eval"]))
    if baseline_fingerprint:
        results["models"]["baseline"]["fingerprint"] = baseline_fingerprint
    write_samples(folder, samples)
    write_results(folder, results)
    return folder


def test_compare_paired_difference_b_minus_a(tmp_path, results_factory, capsys):
    """B wins every prompt A loses: per set d = (0, 0, 0, 1), mean 0.25; A 0.625, B 0.875. Helpfulness pools
    its two sets (8 pairs)."""
    a = _run(results_factory, tmp_path / "a")
    b = _run(results_factory, tmp_path / "b", lambda win: 1.0 if win == 0.0 else win)
    assert main(["compare", str(a), str(b / "results.json")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| metric | a | b |")
    assert "## Paired difference b minus a (B - A > 0: b wins more often against the baseline)" in out
    assert f"{4 * QUICK_SETS} prompts matched" in out
    assert "| math/gsm8k | 0.625 | 0.875 | +0.250 [" in out
    row = next(line for line in out.splitlines() if line.startswith("| helpfulness (pooled) |"))
    assert row.endswith("(degenerate interval: n=8 < 10) | 8 | 0 |")  # few prompts; not zero width
    assert "| n/math/gsm8k | 4.0000 | 4.0000 |" in out and "| ties/math/gsm8k | 1.0000 | 1.0000 |" in out
    assert "StrongREJECT rubric judge through an OpenAI-compatible endpoint" in out  # the quick suite has ASR


def test_compare_identical_runs_flag_the_zero_width_interval_and_more_runs_pair_with_the_first(
    tmp_path, results_factory, capsys
):
    a, b = _run(results_factory, tmp_path / "a"), _run(results_factory, tmp_path / "b")
    c = _run(results_factory, tmp_path / "c", lambda win: 0.0)
    assert main(["compare", str(a), str(b), str(c)]) == 0  # each later run against the first
    out = capsys.readouterr().out
    assert (
        "| math/gsm8k | 0.625 | 0.625 | +0.000 [+0.000, +0.000] (degenerate interval: n=4 < 10, zero width: every paired difference is equal)"
        in out
    )
    assert "## Paired difference c minus a" in out and "| math/gsm8k | 0.625 | 0.000 | -0.625 [" in out


def test_compare_log_writes_the_paired_result_to_mlflow(tmp_path, results_factory, capsys):
    from mlflow.tracking import MlflowClient

    a = _run(results_factory, tmp_path / "a")
    b = _run(results_factory, tmp_path / "b", lambda win: 1.0 if win == 0.0 else win)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["compare", str(a), str(b), "--log", "--tracking-uri", uri]) == 0
    run_id = capsys.readouterr().out.strip().splitlines()[-1].split()[-1]
    client = MlflowClient(tracking_uri=uri)
    metrics = client.get_run(run_id).data.metrics
    assert metrics["paired/b_minus_a/diff/math/gsm8k"] == pytest.approx(0.25)
    assert metrics["paired/b_minus_a/n/helpfulness"] == 8 and metrics["b/winrate/math/gsm8k"] == 0.875
    assert (
        metrics["a/n/math/gsm8k"] == 4
        and metrics["a/ties/math/gsm8k"] == 1
        and metrics["a/invalid/math"] == 0
    )
    assert metrics["b/lc_winrate/math/gsm8k"] == pytest.approx(0.875)  # equal lengths: LC = raw
    assert (
        metrics["paired/b_minus_a/ci_low/math/gsm8k"]
        <= 0.25
        <= metrics["paired/b_minus_a/ci_high/math/gsm8k"]
    )
    local = client.download_artifacts(run_id, "paired.json", str(tmp_path))
    loaded = json.loads(Path(local).read_text())
    assert (
        loaded[0]["direction"] == "B - A" and loaded[0]["subpreferences"]["math"]["sets"]["gsm8k"]["n"] == 4
    )
    compare_md = Path(client.download_artifacts(run_id, "compare.md", str(tmp_path))).read_text()
    assert "## Paired difference b minus a" in compare_md


def test_compare_refuses_other_prompts_and_other_baselines(tmp_path, results_factory, capsys):
    a = _run(results_factory, tmp_path / "a")
    b = _run(results_factory, tmp_path / "b")
    lines = (b / "samples.jsonl").read_text().splitlines()
    (b / "samples.jsonl").write_text("\n".join(lines[1:]) + "\n")
    assert main(["compare", str(a), str(b)]) == 2
    err = capsys.readouterr().err
    assert f"not on the same prompts: 1 of a's {4 * QUICK_SETS} prompts are not in b, 0 of b's" in err
    assert "helpfulness/vicuna/vicuna:0" in err
    c = _run(results_factory, tmp_path / "c", baseline_fingerprint="c" * 64)
    assert main(["compare", str(a), str(c)]) == 2
    assert "baselines differ: a was judged against 'base' (sha256 bbbbbbbbbbbb)" in capsys.readouterr().err
    assert main(["compare", str(a), str(c), "--unpaired"]) == 0  # the metrics table alone still works
    (c / "samples.jsonl").unlink()
    assert main(["compare", str(a), str(c)]) == 2
    assert "samples.jsonl: missing; a paired compare needs" in capsys.readouterr().err


def test_render_paired_marks_only_degenerate_intervals():
    """20 prompts, d = ten 1s and ten 0s: a real interval (no mark); 3 prompts: n < 10 is marked."""
    from plot_eval.aggregation.paired import paired_comparison
    from plot_eval.reports.compare import render_paired
    from plot_eval.suite import ScoringSettings

    def samples(wins):
        return [
            {"subpreference": "math", "set": "s", "metric": "winrate", "judge": "j", "prompt_id": str(i),
             "prompt": f"q{i}", "win": w}
            for i, w in enumerate(wins)
        ]  # fmt: skip

    results = {"models": {"baseline": {"name": "base", "fingerprint": "b" * 64}}}
    many = paired_comparison(
        results, samples([0.0] * 20), results, samples([1.0] * 10 + [0.0] * 10), ("a", "b"), ScoringSettings()
    )
    row = next(line for line in render_paired(many).splitlines() if line.startswith("| math/s |"))
    assert (
        row.startswith("| math/s | 0.000 | 0.500 | +0.500 [")
        and "degenerate" not in row
        and row.endswith("| 20 | 0 |")
    )
    few = paired_comparison(
        results, samples([0, 1, 0]), results, samples([1, 1, 0]), ("a", "b"), ScoringSettings()
    )
    assert "(degenerate interval: n=3 < 10) | 3 | 0 |" in render_paired(few)
