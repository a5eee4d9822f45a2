"""The arithmetic experiment end to end on the tiny model: pilot, data, gate, two arms, analysis, report.

Also: the gate stops the grid with exit 3, a rerun skips finished cells, the verdict rule on hand cases, the
config's errors, and the per-item response measurement against a hand computation.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from experiments.arithmetic_analysis import verdict
from experiments.arithmetic_config import load_arithmetic_config
from experiments.arithmetic_data import _encode
from experiments.arithmetic_measure import (
    Batch,
    _greedy_correct,
    measure_policy,
    prepare_inputs,
)
from experiments.config import ExperimentConfigError
from plot_lightning.models.loading import load_causal_lm, load_tokenizer

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "configs" / "experiments" / "arithmetic_tiny.yaml"
DATA_ARGS = ["--model", "tiny", "--band", "0", "1", "--pilot-prompts", "4", "--train-prompts", "40",
             "--validation-prompts", "16", "--heldout-prompts", "8", "--samples", "16", "--shots", "1",
             "--gold-chosen"]  # fmt: skip


def _cli(*args, cwd):
    """``python -m experiments ...`` from ``cwd``, with the checkout on the path (the folder is not installed)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        [sys.executable, "-m", "experiments", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env=env,
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("arith") / "data"
    result = _cli("arithmetic-data", "--out", str(folder), *DATA_ARGS, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    return folder


def _config(tmp_path, **changes):
    raw = yaml.safe_load(TINY.read_text())
    for key, value in changes.items():
        raw[key] = value
    raw["base_config"] = str(ROOT / "configs" / "tiny.yaml")
    path = tmp_path / "arith.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_whole_pipeline_two_arms_then_resume(data, tmp_path):
    config = _config(tmp_path, data_dir=str(data), out_dir=str(tmp_path / "out"))
    result = _cli("arithmetic-run", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "out"
    results = json.loads((out / "results.json").read_text())
    assert results["gate"]["passed"] and results["gate"]["arm"] == "dpo"
    assert set(results["arms"]) == {"dpo", "dpo_plot"} and set(results["arms"]["dpo"]) == {"2", "4"}
    assert [c["role"] for c in results["contrasts"]] == ["primary", "no_worse"]
    assert results["verdict"].startswith("no difference resolvable")  # a random model solves nothing
    # every per-item value is on disk: base + 2 arms x 2 points, each 8 accuracy + 8 on-task + 6 off-task items
    items = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    assert len(items) == results["items_written"] == 5 * (8 + 8 + 6)
    assert {(i["arm"], i["step"]) for i in items} == {
        ("base", 0),
        ("dpo", 2),
        ("dpo", 4),
        ("dpo_plot", 2),
        ("dpo_plot", 4),
    }
    kl_end = [
        i["kl"] / i["tokens"]
        for i in items
        if i["arm"] == "dpo_plot" and i["step"] == 4 and i["set"] == "ontask"
    ]
    assert results["arms"]["dpo_plot"]["4"]["ontask_kl"]["mean"] == pytest.approx(np.mean(kl_end))
    # PLOT's weight was calibrated at the first step to 15% of DPO's gradient norm, and the share is logged
    calibration = results["calibration"]["dpo_plot seed 0"]
    assert calibration["weights"]["plot"] != 1.0 and "train/grad_share/plot" in calibration["grad_shares"]
    report = (out / "report.md").read_text()
    for heading in ("## Pilot", "## Gate", "## Arms", "## Contrasts", "**Does PLOT help here?**"):
        assert heading in report
    assert str(tmp_path) not in report
    # a rerun finds every cell done and trains nothing
    again = _cli("arithmetic-run", "--config", str(config), cwd=tmp_path)
    assert again.returncode == 0 and "cell 1/2" not in again.stdout and "Trainer.fit" not in again.stderr
    assert json.loads((out / "results.json").read_text())["contrasts"] == results["contrasts"]


def test_gate_stops_before_the_grid(data, tmp_path):
    config = _config(
        tmp_path, data_dir=str(data), out_dir=str(tmp_path / "out"), gate={"arm": "dpo", "min_gain": 0.5}
    )
    result = _cli("arithmetic-run", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 3, result.stderr[-2000:]
    assert "the gate cell (dpo seed 0) moved held-out accuracy by +0.000, less than +0.500" in result.stderr
    assert sorted(p.name for p in (tmp_path / "out" / "cells").iterdir()) == ["dpo__seed0"]
    assert json.loads((tmp_path / "out" / "gate.json").read_text())["passed"] is False


def _contrast(name, role, estimate, low, high, better=False, worse=False, mde=0.05):
    return {"name": name, "role": role, "estimate": estimate, "low": low, "high": high, "better": better,
            "worse": worse, "mde": mde, "p_holm": 0.01 if better or worse else 0.5, "degenerate": False}  # fmt: skip


def test_verdict_rule():
    helps = [_contrast("p", "primary", 0.1, 0.05, 0.15, better=True),
             _contrast("s", "secondary", 0.08, 0.02, 0.12, better=True),
             _contrast("kl", "no_worse", 0.01, -0.01, 0.03)]  # fmt: skip
    assert verdict(helps).startswith("PLOT helps")
    control_as_good = [helps[0], _contrast("s", "secondary", 0.01, -0.03, 0.05), helps[2]]
    assert verdict(control_as_good).startswith("PLOT beats the primary comparison but not the rest (s)")
    drifts = [*helps[:2], _contrast("kl", "no_worse", 0.2, 0.1, 0.3, worse=True)]
    assert "not credited" in verdict(drifts)
    unresolved = [_contrast("p", "primary", 0.01, -0.04, 0.06), helps[1]]
    assert verdict(unresolved).startswith("no difference resolvable: p +0.010") and "MDE 0.050" in verdict(
        unresolved
    )
    assert verdict([_contrast("p", "primary", -0.1, -0.15, -0.05, worse=True)]).startswith("PLOT hurts")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"arms": {"dpo": {"losses": ["dpo"]}}}, "key 'arms.dpo'"),
        (
            {
                "analysis": {
                    "contrasts": [
                        {
                            "name": "x",
                            "treated": "nope",
                            "base": "dpo",
                            "metric": "accuracy",
                            "role": "primary",
                        }
                    ]
                }
            },
            "unknown arm 'nope'",
        ),  # fmt: skip
        (
            {
                "analysis": {
                    "contrasts": [
                        {
                            "name": "x",
                            "treated": "dpo_plot",
                            "base": "dpo",
                            "metric": "bleu",
                            "role": "primary",
                        }
                    ]
                }
            },
            "unknown metric 'bleu'",
        ),  # fmt: skip
        ({"analysis": {"contrasts": []}}, "exactly one contrast has role 'primary'"),
        ({"gate": {"arm": "sft"}}, "key 'gate.arm'"),
        ({"measure": {"max_new_token": 3}}, "key 'measure': unknown key(s) ['max_new_token']"),
    ],
)
def test_config_errors_name_the_file_and_key(tmp_path, change, message):
    path = _config(tmp_path, **change)
    with pytest.raises(
        ExperimentConfigError,
        match=r"arith\.yaml: .*"
        + message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]"),
    ):
        load_arithmetic_config(path)


def _hand_sums(policy, reference, ids, positions, targets):
    with torch.no_grad():
        p = torch.log_softmax(policy(input_ids=ids).logits[0].double(), -1)
        q = torch.log_softmax(reference(input_ids=ids).logits[0].double(), -1)
    nll = -sum(float(p[t, y]) for t, y in zip(positions, targets, strict=True))
    kl = sum(float((p[t].exp() * (p[t] - q[t])).sum()) for t in positions)
    return nll, kl, p


def test_measurements_against_a_hand_computation_with_padding():
    torch.manual_seed(0)
    policy, tokenizer = load_causal_lm("tiny"), load_tokenizer("tiny")
    reference = load_causal_lm("tiny")
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    heldout = [  # prompts of different lengths and answers of different lengths: padding on both sides
        {"prompt": [{"role": "user", "content": "What is 2 + 3?"}], "prefill": "2 + 3 =", "answer": 5, "source_id": "a"},
        {"prompt": [{"role": "user", "content": "What is 10 + 30? Answer with the number only."}],
         "prefill": "10 + 30 =", "answer": 40, "source_id": "b"},
    ]  # fmt: skip
    offtask = [{"prompt": [{"role": "user", "content": "Hi there"}], "chosen": "Hello, how are you?"},
               {"prompt": [{"role": "user", "content": "A longer question here?"}], "chosen": "Yes."}]  # fmt: skip
    settings = {"batch_size": 2, "max_length": 96, "max_prompt_length": 80}
    inputs = prepare_inputs(reference, tokenizer, heldout, offtask, settings)
    items = measure_policy(policy, inputs)
    assert [i["kl"] for i in measure_policy(reference, inputs)["ontask"]] == pytest.approx([0, 0], abs=1e-6)
    for row, item, correct in zip(heldout, items["ontask"], items["accuracy"], strict=True):
        text = tokenizer.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
        prefix = _encode(tokenizer, [text + row["prefill"]])["input_ids"][0].tolist()
        answer = tokenizer(f" {row['answer']}", add_special_tokens=False)["input_ids"]
        ids = torch.tensor([prefix + answer])
        positions = list(range(len(prefix) - 1, len(prefix) - 1 + len(answer)))
        nll, kl, p = _hand_sums(policy, reference, ids, positions, answer)
        assert item["tokens"] == len(answer) and item["nll"] == pytest.approx(nll, rel=1e-4)
        assert item["kl"] == pytest.approx(kl, rel=1e-3, abs=1e-6)
        writes = all(int(p[t].argmax()) == y for t, y in zip(positions, answer, strict=True))
        assert correct["correct"] == int(
            writes and not tokenizer.decode([int(p[positions[-1] + 1].argmax())])[:1].isdigit()
        )
    from plot_lightning.data.tokenize import ChatEncoder

    for row, item in zip(offtask, items["offtask"], strict=True):
        encoded = ChatEncoder(tokenizer, 96, 80).encode(row["prompt"], row["chosen"], "chosen")
        labels = encoded["labels"]
        positions = [t - 1 for t in range(1, len(labels)) if labels[t] != -100]
        nll, kl, _ = _hand_sums(policy, reference, torch.tensor([encoded["input_ids"]]), positions,
                                [labels[t + 1] for t in positions])  # fmt: skip
        assert item["tokens"] == len(positions) and item["nll"] == pytest.approx(nll, rel=1e-4)
        assert item["kl"] == pytest.approx(kl, rel=1e-3, abs=1e-6)


def test_greedy_check_needs_every_answer_token_and_no_digit_after():
    digits = torch.tensor([False, False, True, False, False, False, False, False])  # token 2 is a digit
    batch = Batch(torch.zeros(1, 3, dtype=torch.long), torch.ones(1, 3, dtype=torch.long), 3,
                  torch.tensor([[5, 6, 0]]), torch.tensor([[True, True, False]]))  # fmt: skip

    def logp(*best):
        out = torch.full((1, 3, 8), -10.0)
        for j, token in enumerate(best):
            out[0, j, token] = 0.0
        return out

    assert _greedy_correct(logp(5, 6, 1), batch, digits) == [1]
    assert _greedy_correct(logp(5, 6, 2), batch, digits) == [0]  # "56" then another digit: a longer number
    assert _greedy_correct(logp(5, 7, 1), batch, digits) == [0]
