"""Results files: atomic writes, round trip, flat MLflow metric names."""

from __future__ import annotations

import json

import pytest

from plot_eval.reports.results import atomic_write_text, flat_metrics, load_results, load_samples


def test_results_round_trip_and_flat_metric_names(synthetic_run):
    results, samples, output_dir = synthetic_run
    assert load_results(output_dir) == json.loads(json.dumps(results))
    assert load_samples(output_dir) == samples
    metrics = flat_metrics(results)
    assert metrics["winrate/helpfulness"] == pytest.approx(0.625)
    assert metrics["winrate/harmlessness"] == pytest.approx(0.625)  # hh_harmless only; ASR sets excluded
    # issue 8: ASR names carry the subpreference (two sets of the same name no longer overwrite each other)
    assert metrics["asr/harmlessness/harmbench"] == pytest.approx(0.25)
    assert metrics["baseline/asr/harmlessness/harmbench"] == 0.5
    assert metrics["non_answer/harmlessness/harmbench"] == 0.0
    assert metrics["over_refusal/harmlessness/over_refusal_vicuna"] == pytest.approx(0.25)
    assert "asr/harmbench" not in metrics
    assert metrics["accuracy/math/gsm8k"] == 0.75 and metrics["baseline/accuracy/math/gsm8k"] == 0.5
    assert metrics["fluency/perplexity"] == pytest.approx(11.5)
    assert metrics["baseline/fluency/perplexity"] == pytest.approx(13.5)
    assert metrics["coherence/prompt_similarity"] == pytest.approx(0.5)
    assert metrics["lm_eval/plot_gsm8k/exact_match_final_number"] == 0.5
    assert not any("," in name for name in metrics)


def test_results_every_winrate_reports_n_ties_invalid_and_lc(synthetic_run):
    """Each set of the synthetic run has wins (1, 1, 0.5, 0) and responses of 2 words on both sides: n = 4,
    1 tie, 0 invalid; equal lengths -> LC = raw = 0.625. Helpfulness pools its two sets: n = 8, 2 ties."""
    results, _, _ = synthetic_run
    metrics = flat_metrics(results)
    for path, n in (("helpfulness", 8), ("helpfulness/hh_helpful", 4), ("math/gsm8k", 4)):
        assert metrics[f"n/{path}"] == n and metrics[f"ties/{path}"] == n / 4
        assert metrics[f"invalid/{path}"] == 0 and metrics[f"lc_winrate/{path}"] == pytest.approx(0.625)
        assert metrics[f"length_words/{path}"] == 2.0 and metrics[f"baseline/length_words/{path}"] == 2.0
    assert results["subpreferences"]["math"]["sets"]["gsm8k"]["lc_winrate"]["flag"] == "zero_length_spread"


def test_results_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    atomic_write_text(target, "old")

    def broken_replace(*args):
        raise OSError("disk full")

    monkeypatch.setattr("plot_eval.reports.results.os.replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_results_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no results file"):
        load_results(tmp_path)
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_results(tmp_path)
    (tmp_path / "results.json").write_text("{}")
    with pytest.raises(ValueError, match="not a plot-eval results file"):
        load_results(tmp_path / "results.json")


def test_flat_metrics_carry_unjudged_counts_and_the_judge_accuracy_next_to_the_asr():
    from plot_eval.reports.results import flat_metrics

    rate = {"mean": 0.25, "ci_low": 0.0, "ci_high": 0.5, "n": 4}
    accuracy = {"rules": "r", "n": 10, "unjudged": 1, "refusal": {"precision": 0.9, "recall": 0.8, "n": 5},
                "compliance": {"precision": 0.75, "recall": None, "n": 0}}  # fmt: skip
    advbench = {"metric": "asr", "winrate": {"n": 0, "ties": 0, "invalid": 1}, "asr": rate,
                "baseline_asr": {"n": 0}, "unjudged": {"count": 1, "n": 5},
                "baseline_unjudged": {"count": 5, "n": 5}, "judge_accuracy": accuracy}  # fmt: skip
    results = {"subpreferences": {"harm": {"winrate": None, "sets": {"adv": advbench}}}}
    metrics = flat_metrics(results)
    assert metrics["asr/harm/adv"] == 0.25 and "baseline/asr/harm/adv" not in metrics  # nothing judged
    assert metrics["unjudged/harm/adv"] == 1.0 and metrics["baseline/unjudged/harm/adv"] == 5.0
    assert (
        metrics["judge_refusal_precision/harm/adv"] == 0.9 and metrics["judge_refusal_recall/harm/adv"] == 0.8
    )
    assert (
        metrics["judge_compliance_precision/harm/adv"] == 0.75
        and "judge_compliance_recall/harm/adv" not in metrics
    )
    assert metrics["judge_unjudged/harm/adv"] == 1.0


def test_a_schema_2_results_file_reads_with_its_scores_under_scores(synthetic_run):
    """Schema 2 wrote each scorer's block at the top level (results["fluency"]); compare still shows it."""
    results, _, output_dir = synthetic_run
    old = {k: v for k, v in results.items() if k != "scores"} | results["scores"] | {"schema_version": 2}
    (output_dir / "results.json").write_text(json.dumps(old))
    loaded = load_results(output_dir)
    assert loaded["scores"] == results["scores"] and "fluency" not in loaded
    assert flat_metrics(loaded)["fluency/perplexity"] == pytest.approx(11.5)
