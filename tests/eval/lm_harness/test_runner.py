"""lm-eval on the shipped local task YAMLs (GSM8K generate_until, TruthfulQA MC1), tiny model, offline."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
import yaml

from plot_eval.lm_harness.runner import prepare_tasks, rename_metrics, run_lm_eval

SAMPLES = Path(__file__).resolve().parents[3] / "eval" / "samples"


def test_lm_eval_rename_metrics_drops_commas_and_non_numbers():
    raw = {"alias": "t", "acc,none": 0.5, "acc_stderr,none": "N/A", "exact_match,final_number": 1.0,
           "exact_match_stderr,final_number": 0.1}  # fmt: skip
    assert rename_metrics(raw) == {
        "acc": 0.5,
        "exact_match_final_number": 1.0,
        "exact_match_stderr_final_number": 0.1,
    }


def test_lm_eval_prepare_tasks_converts_local_data(tmp_path):
    prepare_tasks(["plot_gsm8k", "plot_truthfulqa_mc1"], SAMPLES, tmp_path, max_gen_toks=7)
    gsm8k = yaml.safe_load((tmp_path / "plot_gsm8k.yaml").read_text())
    assert gsm8k["dataset_kwargs"]["data_files"] == {"test": str(tmp_path / "plot_gsm8k.jsonl")}
    assert gsm8k["generation_kwargs"]["max_gen_toks"] == 7
    rows = [json.loads(line) for line in (tmp_path / "plot_gsm8k.jsonl").read_text().splitlines()]
    assert len(rows) == 10 and all(row["gold"].lstrip("-").replace(".", "").isdigit() for row in rows)
    mc = [json.loads(line) for line in (tmp_path / "plot_truthfulqa_mc1.jsonl").read_text().splitlines()]
    # held-out rule (last 20% of the CSV rows) applied to the 20-row sample: its last 4 rows
    assert len(mc) == 4 and all(row["label"] == 0 and len(row["choices"]) >= 2 for row in mc)
    with pytest.raises(ValueError, match="unknown lm-eval task 'mmlu'"):
        prepare_tasks(["mmlu"], SAMPLES, tmp_path, max_gen_toks=7)


@pytest.mark.slow
def test_lm_eval_runs_local_tasks_offline(tiny_tokenizer, caplog):
    """Also: lm-eval's two notices about a model object (which this runner passes on purpose) are not logged;
    its other warnings would be."""
    from plot_lightning.models.tiny import tiny_model

    caplog.set_level(logging.INFO)
    assert os.environ["HF_DATASETS_OFFLINE"] == "1"
    model = tiny_model(len(tiny_tokenizer))
    results = run_lm_eval(model, tiny_tokenizer, ["plot_gsm8k", "plot_truthfulqa_mc1"], SAMPLES, limit=2,
                          max_gen_toks=4)  # fmt: skip
    assert set(results) == {"plot_gsm8k", "plot_truthfulqa_mc1"}
    assert 0.0 <= results["plot_gsm8k"]["exact_match_final_number"] <= 1.0
    assert 0.0 <= results["plot_truthfulqa_mc1"]["acc"] <= 1.0
    assert "acc_stderr" in results["plot_truthfulqa_mc1"]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "lm_eval" in {record.name.split(".")[0] for record in caplog.records}  # its log reaches caplog
    notices = ("`pretrained` model kwarg is not of type `str`", "Passed an already-initialized model")
    assert not [text for text in notices if text in logged], logged[-2000:]
