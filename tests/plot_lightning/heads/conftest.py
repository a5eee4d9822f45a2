"""Shared by the module-level head tests: a real collated tiny batch and one training step of a PLOTModule."""

from __future__ import annotations

import json

import pytest
import torch

from plot_lightning.data.datamodule import PreferenceDataModule
from plot_lightning.forward import align_batch
from plot_lightning.losses.metrics import preference_metrics
from plot_lightning.module import PLOTModule


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> dict:
    """3 pairs of the tiny tokenizer, collated: responses of different lengths, so rows are padded."""
    path = tmp_path_factory.mktemp("data") / "pairs.jsonl"
    rows = [
        {
            "prompt": f"Question {i}: bread?",
            "chosen": "Mix flour and bake. " * (1 + i),
            "rejected": "No." * (1 + i % 2),
        }
        for i in range(3)
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows))
    data = PreferenceDataModule(str(path), tokenizer="tiny", batch_size=3, shuffle=False)
    return next(iter(data.train_dataloader()))


def _module_step(batch: dict, fused: bool | None, **kwargs) -> tuple[dict, dict, bool]:
    """Loss terms + TRL metrics ``{name: 0-d tensor}``, policy gradients ``{name: tensor}`` and whether the
    policy side carried full logits, for one step of ``PLOTModule(fused_head=fused, **kwargs)``; the policy is
    moved off the reference first, so that every term and gradient is non-trivial."""
    module = PLOTModule(fused_head=fused, fused_chunk_size=7, **kwargs)
    torch.manual_seed(0)  # peft draws the LoRA A matrices at random
    module.configure_model()
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for param in module.policy.parameters():
            if param.requires_grad:
                param.add_(0.05 * torch.randn(param.shape, generator=gen).to(param.dtype))
    aligned = align_batch(batch)
    forward = module._policy_forward(aligned, module._reference_outputs(aligned, batch, "train"))
    total, terms = module.loss(forward)
    total.backward()
    values = {k: v.detach() for k, v in {**terms, **preference_metrics(forward, 0.1)}.items()}
    grads = {n: p.grad for n, p in module.policy.named_parameters() if p.grad is not None}
    return values, grads, forward.chosen.logits is not None


@pytest.fixture
def module_step():
    """:func:`_module_step`."""
    return _module_step
