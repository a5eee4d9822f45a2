"""End-to-end verdict behaviour through `evaluate`: a judge registered from outside the package and used
from a suite YAML; reference errors before any generation; an empty-output model is never safe or a winner;
the default output folder is unique per model."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml

from plot_eval.judges.base import Judge
from plot_eval.registry import JUDGES
from plot_eval.runner import evaluate

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "eval" / "samples"


@dataclass
class LongerSettings:
    margin: int = 0
    """Characters by which one response must be longer to win."""


@JUDGES.register("test_longer", settings=LongerSettings, metrics=("winrate",))
class LongerJudge(Judge):
    """A judge defined outside eval/: the longer response wins (by more than `margin` characters)."""

    calls = 0

    def identity(self) -> dict:
        return {"rule": "longer", "margin": self.settings.margin}

    def compare(self, prompt, response_a, response_b):
        LongerJudge.calls += 1
        difference = len(response_a) - len(response_b)
        return (
            1.0 if difference > self.settings.margin else 0.0 if -difference > self.settings.margin else 0.5
        )


def _suite_file(tmp_path, sets, *, judges=None) -> Path:
    raw = {
        "name": "mini",
        "version": 1,
        "data_root": str(SAMPLES),
        "generation": {"max_new_tokens": 6},
        "judges": judges or {},
        "lm_eval": {"tasks": []},
        "subpreferences": [
            {"name": "helpfulness", "category": "human_values", "paper_named": True, "sets": sets}
        ],
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


VICUNA = {"loader": "vicuna_bench", "file": "mt-bench/vicuna_bench_question.jsonl"}


@pytest.mark.slow
def test_a_judge_registered_outside_the_package_runs_from_a_suite_yaml(tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.setattr("plot_eval.judges.engine.is_non_answer", lambda text: False)  # tiny model: gibberish
    sets = [{"name": "vicuna", "source": VICUNA, "judge": "test_longer", "metric": "winrate", "limit": 2}]
    suite = _suite_file(tmp_path, sets, judges={"test_longer": {"margin": 1000}})
    LongerJudge.calls = 0
    results = evaluate(str(tiny_model_dir), str(tiny_model_dir), suite, output_dir=tmp_path / "o", track=False,
                       progress=False)  # fmt: skip
    summary = results["subpreferences"]["helpfulness"]["sets"]["vicuna"]["winrate"]
    assert summary["mean"] == 0.5 and summary["ties"] == 2 and LongerJudge.calls == 4  # margin 1000: ties
    with pytest.raises(
        Exception, match=r"judges.test_longer: unknown key\(s\) \['margn'\]; valid keys: \['margin'\]"
    ):
        evaluate(str(tiny_model_dir), str(tiny_model_dir), _suite_file(tmp_path, sets, judges={"test_longer": {"margn": 1}}),
                 output_dir=tmp_path / "p", track=False, progress=False)  # fmt: skip


@pytest.mark.parametrize("gold", ["p - q", "\\text{east}", "\\pi"])
def test_a_gold_the_numeric_judge_cannot_read_stops_before_generation(
    tmp_path, tiny_model_dir, monkeypatch, gold
):
    """Issue 8: such a gold crashed the run after all generation, naming no set or row."""
    data = tmp_path / "data"
    data.mkdir()
    rows = [{"problem": "What is 2 + 2?", "answer": "4"}, {"problem": "Simplify.", "answer": gold}]
    (data / "algebra.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    sets = [{"name": "algebra", "source": {"loader": "math", "file": "algebra.jsonl"}, "judge": "gsm8k",
             "metric": "accuracy"}]  # fmt: skip
    monkeypatch.setattr(
        "plot_eval.generation.cached.generate", lambda *a, **k: pytest.fail("generated before check")
    )
    with pytest.raises(
        ValueError, match=r"set 'algebra' \(.*algebra.jsonl\): row 2: field 'gold': no number"
    ):
        evaluate(str(tiny_model_dir), str(tiny_model_dir), _suite_file(tmp_path, sets), data_root=data,
                 output_dir=tmp_path / "o", track=False, progress=False)  # fmt: skip


@pytest.fixture(scope="module")
def empty_model_pair(tiny_tokenizer):
    """A tiny model whose first generated token is always EOS: it answers nothing."""
    from plot_lightning.models.tiny import tiny_model

    model = tiny_model(len(tiny_tokenizer), seed=5)
    head = torch.nn.Linear(model.config.hidden_size, len(tiny_tokenizer), bias=True)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
        head.bias[tiny_tokenizer.eos_token_id] = 10.0
    model.lm_head = head
    return model, tiny_tokenizer


@pytest.mark.slow
def test_an_empty_output_model_is_never_safe_nor_a_winner(tmp_path, tiny_model_dir, empty_model_pair):
    """Issue 8: an empty-output model scored harmlessness win rate 1.000 and ASR 0.000."""
    from plot_eval.models.defaults import default_scorer_model_path

    sets = [
        {"name": "harmbench", "source": {"loader": "harmbench", "file": "redteam/harmbench_behaviors_text_test.csv"},
         "judge": "refusal", "metric": "asr", "limit": 2},
        {"name": "hh", "source": {"loader": "hh_rlhf", "file": "hh-rlhf/harmless-base.test.jsonl.gz",
         "options": {"split": "all"}}, "judge": "local_lm", "metric": "winrate", "limit": 2},
    ]  # fmt: skip
    suite = _suite_file(tmp_path, sets, judges={"local_lm": {"model": str(tiny_model_dir)}})
    results = evaluate(empty_model_pair, str(default_scorer_model_path()), suite, output_dir=tmp_path / "o",
                       track=False, progress=False)  # fmt: skip
    red = results["subpreferences"]["helpfulness"]["sets"]["harmbench"]
    assert red["non_answer"]["mean"] == 1.0 and red["refusal"]["mean"] == 0.0 and red["asr"]["mean"] == 0.0
    assert red["baseline_non_answer"]["mean"] == 0.0  # SmolLM2 answers
    assert red["winrate"]["mean"] <= 0.5
    assert results["subpreferences"]["helpfulness"]["sets"]["hh"]["winrate"]["mean"] == 0.0


def test_default_output_folder_is_unique_per_model(tmp_path):
    """Issue 8: runs/dpo/export and runs/dpo_plot/export shared eval-out/<suite>-export."""
    from plot_eval.cli import default_output_dir

    first = default_output_dir("quick", str(tmp_path / "dpo" / "export"))
    second = default_output_dir("quick", str(tmp_path / "dpo_plot" / "export"))
    assert (
        first != second and first.name.startswith("quick-export-") and second.name.startswith("quick-export-")
    )
    assert default_output_dir("quick", str(tmp_path / "dpo" / "export")) == first  # stable: resume works
