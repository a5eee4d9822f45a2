"""Dropout off by default (TRL's disable_dropout) with an option to keep it; the lora_disabled reference runs in
eval mode, so its log-probs are deterministic even when the policy keeps its dropout."""

from __future__ import annotations

import pytest
import torch

from plot_lightning.data.collate import PreferenceCollator
from plot_lightning.forward import align_batch, causal_logits
from plot_lightning.models.lora import LoraSettings
from plot_lightning.models.modes import disable_dropout, eval_mode
from plot_lightning.models.tiny import tiny_model, tiny_tokenizer
from plot_lightning.module import PLOTModule


@pytest.fixture(scope="module")
def dropout_model_dir(tmp_path_factory) -> str:
    """The tiny Llama with attention dropout 0.5 (Llama keeps it as a float attribute, not nn.Dropout)."""
    model = tiny_model(len(tiny_tokenizer()))
    model.config.attention_dropout = 0.5
    folder = tmp_path_factory.mktemp("dropout-model")
    model.save_pretrained(folder)
    return str(folder)


def batch() -> dict:
    ids = [[5, 9, 14, 22, 31, 40, 41, 50], [5, 9, 14, 60, 61, 62, 70, 71]]
    examples = [
        {
            "chosen_input_ids": ids[0],
            "chosen_labels": [-100] * 3 + ids[0][3:],
            "rejected_input_ids": ids[1],
            "rejected_labels": [-100] * 3 + ids[1][3:],
            "example_index": 0,
            "subpreference_id": 0,
        }
    ]
    return PreferenceCollator(pad_token_id=0)(examples)


def test_disable_dropout_zeroes_modules_and_attributes(dropout_model_dir) -> None:
    from plot_lightning.models.loading import load_causal_lm

    model = load_causal_lm(dropout_model_dir)
    model.dropout_layer = torch.nn.Dropout(0.3)
    assert {m.attention_dropout for m in model.modules() if hasattr(m, "attention_dropout")} == {0.5}
    disable_dropout(model)
    assert {m.attention_dropout for m in model.modules() if hasattr(m, "attention_dropout")} == {0.0}
    assert model.dropout_layer.p == 0.0
    assert model.config.attention_dropout == 0.5  # the exported config is not rewritten


def test_eval_mode_restores_each_submodule_mode() -> None:
    model = torch.nn.Sequential(torch.nn.Dropout(0.5), torch.nn.Linear(2, 2)).train()
    model[1].eval()
    with eval_mode(model):
        assert not any(m.training for m in model.modules())
    assert model.training and model[0].training and not model[1].training


def two_passes(module: PLOTModule, reference: bool) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    data = batch()
    aligned = align_batch(data)
    if reference:
        return tuple(module._reference_outputs(aligned, data, "train").logps for _ in range(2))
    with torch.no_grad():
        return tuple(causal_logits(module.policy, aligned) for _ in range(2))


@pytest.mark.parametrize("keep_dropout", [False, True])
def test_lora_disabled_reference_is_deterministic(dropout_model_dir, keep_dropout) -> None:
    """Before: the reference ran through the policy in train mode, so its log-probs changed between passes."""
    module = PLOTModule(
        model=dropout_model_dir,
        losses=["dpo"],
        weights=[1.0],
        reference="lora_disabled",
        lora=LoraSettings(r=4, alpha=8.0, dropout=0.5),
        disable_dropout=not keep_dropout,
    )
    module.configure_model()
    module.train()
    assert module.policy.training
    first, second = two_passes(module, reference=True)
    assert torch.equal(first, second)
    assert module.policy.training  # the reference pass left the policy's mode as it was
    policy_first, policy_second = two_passes(module, reference=False)
    # Dropout is off by default: the policy's training forward is deterministic too; kept when asked.
    assert torch.equal(policy_first, policy_second) is (not keep_dropout)
