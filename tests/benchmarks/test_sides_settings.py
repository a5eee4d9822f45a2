"""Both sides of ``vs_trl.py`` run the settings they are given, TRL included: gradient checkpointing and the
fused AdamW kernel.

TRL's DPOConfig defaults ``gradient_checkpointing`` to True where TrainingArguments defaults it to False: a
benchmark that leaves it out compares TRL recomputing activations against ours storing them (what the
4 x 1024 memory row once did). TRL's optimizer is transformers' default, ``adamw_torch_fused``; ours is
given ``fused=True`` so that both step the same kernel.
"""

from __future__ import annotations

import pytest

pytest.importorskip("trl")


def _examples(count: int = 2) -> list[dict]:
    from speed_one import synthetic_examples

    return synthetic_examples(pairs=1, seq_len=16, vocab=256, steps=count)


def _settings(checkpointing: bool) -> dict:
    return {"steps": 1, "pairs": 1, "lr": 1e-4, "beta": 0.1, "seed": 0, "device": "cpu", "plot_weight": 0.1,
            "gradient_checkpointing": checkpointing, "fused_adamw": True}  # fmt: skip


@pytest.mark.parametrize("checkpointing", [False, True])
def test_trl_runs_the_setting_it_is_given(tmp_path, checkpointing):
    from trl_side import run_trl, trl_rows

    from plot_lightning.models.loading import load_causal_lm, load_tokenizer

    settings = {**_settings(checkpointing), "reference_model": load_causal_lm("tiny")}
    trainer = run_trl(
        load_causal_lm("tiny"), load_tokenizer("tiny"), trl_rows(_examples()), settings, str(tmp_path)
    )
    assert trainer.args.gradient_checkpointing is checkpointing
    assert bool(trainer.model.is_gradient_checkpointing) is checkpointing
    assert trainer.clock.fused_adamw is True


@pytest.mark.parametrize("checkpointing", [False, True])
def test_ours_runs_the_setting_it_is_given(checkpointing):
    from ours_side import run_ours

    recorder = run_ours("tiny", _examples(), 0, _settings(checkpointing), "fused")
    assert recorder.checkpointing is checkpointing
    assert recorder.fused_adamw is True
    assert len(recorder.step_records) == 1
