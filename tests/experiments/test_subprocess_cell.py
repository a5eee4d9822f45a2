"""The default path of a real cell: training in a child ``plot-lightning fit`` process, then ``plot-eval run``
as a subprocess on the export, its results read back into the cell record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from experiments.experiment import run_experiment
from experiments.runner import cell_state

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def programmatic_suite(tmp_path) -> Path:
    """The quick suite cut to its programmatic sets (GSM8K exact match, red-team refusal): no judge LM."""
    raw = yaml.safe_load((REPO / "configs" / "eval" / "quick.yaml").read_text(encoding="utf-8"))
    subs = []
    for sub in raw["subpreferences"]:
        sets = [s for s in sub["sets"] if s["judge"] in ("gsm8k", "refusal")]
        if sets:
            subs.append({**sub, "sets": [{**s, "limit": 1} for s in sets]})
    raw.update(subpreferences=subs, data_root=str(REPO / "eval" / "samples"), lm_eval={"tasks": []})
    raw["scorers"] = {}  # no fluency or coherence LM
    raw["generation"]["max_new_tokens"] = 4
    path = tmp_path / "programmatic.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.mark.slow
def test_subprocess_training_and_eval(tiny_experiment, programmatic_suite):
    path = tiny_experiment(
        methods=["dpo_plot_dirac"],
        train={"launcher": "subprocess", "checkpoint_every": 2, "keep_checkpoints": False},
        eval={"suite": str(programmatic_suite)},
    )
    experiment, failures = run_experiment(path)
    assert failures == []
    state = cell_state(experiment.config, experiment.cells[0])
    assert state.read("trained")["launcher"] == "subprocess" and (state.root / "train.log").is_file()
    assert not state.checkpoints.exists()  # keep_checkpoints: false removes them once the cell is done
    record = state.read("done")
    results = json.loads((state.eval_dir / "results.json").read_text(encoding="utf-8"))
    math_sets = results["subpreferences"]["math"]["sets"]
    assert record["eval"]["math"]["accuracy/gsm8k"] == math_sets["gsm8k"]["accuracy"]["mean"]
    harm = results["subpreferences"]["harmlessness"]["sets"]
    for metric in ("asr", "over_refusal"):
        assert {k: v for k, v in record["eval"]["harmlessness"].items() if k.startswith(f"{metric}/")} == {
            f"{metric}/{name}": s[metric]["mean"] for name, s in harm.items() if metric in s
        }
    assert any("asr" in s for s in harm.values())
    samples = [
        json.loads(line) for line in (state.eval_dir / "samples.jsonl").read_text().splitlines() if line
    ]
    words = sum(len(s["model_response"].split()) for s in samples) / len(samples)
    assert record["eval"]["all"]["response_words"] == pytest.approx(words)
    assert record["cost"]["train_steps"] == 4 and record["cost"]["tokens_per_s"] > 0
