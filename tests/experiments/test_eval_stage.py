"""The metrics an experiment reads back from a plot-eval output folder (results.json, samples.jsonl)."""

from __future__ import annotations

import json

import pytest

from experiments.eval_stage import read_eval_metrics

TEXT = "Go to the shop, go to it"


def _interval(mean: float) -> dict:
    return {"mean": mean, "ci_low": mean, "ci_high": mean, "n": 2}


def _write_run(folder):
    """One subpreference with a set of a metric the experiment code has never heard of (`brevity`, with
    the extra entry `hedging`) and two scorers, one of them new (`word_stats`)."""
    brevity = {"metric": "brevity", "title": "brief answers", "winrate": {**_interval(0.75), "ties": 0, "invalid": 0},
               "lc_winrate": None, "brevity": _interval(0.5), "baseline_brevity": _interval(0.25),
               "hedging": _interval(0.125), "baseline_hedging": _interval(0.0), "unjudged": {"count": 0, "n": 2}}  # fmt: skip
    results = {
        "subpreferences": {"helpfulness": {"winrate": _interval(0.75), "sets": {"vicuna": brevity}}},
        "scores": {
            "fluency": {"model": {"distinct_2": _interval(6 / 7)}, "baseline": {}},
            "word_stats": {"model": {"words": _interval(6.0)}, "baseline": {}},
        },  # fmt: skip
        "lm_eval": {"model": {"plot_gsm8k": {"exact_match": 0.5}}},
    }
    (folder / "results.json").write_text(json.dumps(results))
    scores = {"fluency": {"distinct_2": 6 / 7, "perplexity": None}, "word_stats": {"words": 6.0}}
    samples = [{"subpreference": "helpfulness", "model_response": TEXT, "model_scores": scores}] * 2
    (folder / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))


def test_distinct_2_is_the_fluency_scorers_not_a_second_count(tmp_path):
    """Issue 22: eval_stage recomputed distinct-2 on whitespace-split words and logged it next to the fluency
    scorer's. For "Go to the shop, go to it" the scorer's words are lower-cased word and punctuation tokens
    (go to the shop , go to it): 7 bigrams, (go, to) twice -> 6 / 7 = 0.857; split on whitespace, "Go" and
    "go" differ and "shop," is one word: 6 of 6 unique -> 1.0. Only the scorer's value may appear."""
    _write_run(tmp_path)
    metrics = read_eval_metrics(tmp_path)
    assert metrics["helpfulness"]["fluency/distinct_2"] == pytest.approx(6 / 7)
    assert metrics["all"]["fluency/distinct_2"] == pytest.approx(6 / 7)
    assert not any(name == "distinct_2" for group in metrics.values() for name in group)
    assert "fluency/perplexity" not in metrics["helpfulness"]  # undefined for every response


def test_every_metric_entry_and_scorer_is_read_without_naming_them(tmp_path):
    """Set entries are read by plot-eval's convention (`<entry>` model, `baseline_<entry>` baseline), scores
    from `scores`: a new metric and a new scorer arrive without a change here."""
    _write_run(tmp_path)
    metrics = read_eval_metrics(tmp_path)
    assert metrics["helpfulness"]["judged_winrate"] == 0.75
    assert (
        metrics["helpfulness"]["brevity/vicuna"] == 0.5 and metrics["helpfulness"]["hedging/vicuna"] == 0.125
    )
    assert not any(name.startswith(("baseline", "unjudged", "lc_winrate")) for name in metrics["helpfulness"])
    assert metrics["all"]["word_stats/words"] == 6.0 and metrics["helpfulness"]["word_stats/words"] == 6.0
    assert metrics["all"]["lm_eval/plot_gsm8k/exact_match"] == 0.5
    assert metrics["all"]["response_words"] == 7.0  # whitespace-separated words of TEXT
