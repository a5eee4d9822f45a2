"""LoRA: only adapter weights train; the reference (adapters disabled) is exactly the base model."""

from __future__ import annotations

import json

import pytest
import torch

from plot_lightning.data.datamodule import PreferenceDataModule
from plot_lightning.forward import align_batch, causal_logits
from plot_lightning.models.loading import load_causal_lm
from plot_lightning.models.lora import LoraSettings
from plot_lightning.module import PLOTModule


def test_lora_settings_validate() -> None:
    with pytest.raises(ValueError, match="r must be"):
        LoraSettings(r=0)
    with pytest.raises(ValueError, match="lora"):
        PLOTModule(reference="lora_disabled")


@pytest.mark.slow
def test_lora_reference_is_base_model_and_only_adapters_train(tmp_path, quiet_trainer) -> None:
    rows = [
        {"prompt": f"Question {i}?", "chosen": "Mix flour and bake." * (1 + i), "rejected": "No."}
        for i in range(4)
    ]
    data = tmp_path / "pairs.jsonl"
    data.write_text("\n".join(json.dumps(row) for row in rows))
    module = PLOTModule(
        model="tiny",
        losses=["dpo"],
        weights=[1.0],
        reference="lora_disabled",
        lora=LoraSettings(r=4, alpha=8.0),
        optimizer=lambda p: torch.optim.AdamW(p, lr=5e-2),
    )
    datamodule = PreferenceDataModule(str(data), tokenizer="tiny", batch_size=2, shuffle=False)
    quiet_trainer(max_steps=3).fit(module, datamodule=datamodule)

    assert module.reference is None
    trainable = {name for name, p in module.policy.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name for name in trainable)

    base = load_causal_lm("tiny").eval()
    for name, param in base.named_parameters():  # frozen base weights did not move
        torch.testing.assert_close(module.policy.get_parameter(f"base_model.model.{name}"), param)
    batch = next(iter(datamodule.train_dataloader()))
    aligned = align_batch(batch)
    module.policy.eval()
    with torch.no_grad():
        with module.policy.disable_adapter():
            reference_logits = causal_logits(module.policy, aligned)
        policy_logits = causal_logits(module.policy, aligned)
        base_logits = causal_logits(base, aligned)
    torch.testing.assert_close(reference_logits, base_logits)
    assert not torch.allclose(policy_logits, base_logits)  # the adapters did train
