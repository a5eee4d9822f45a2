"""DPO+PLOT: extra right padding changes neither the loss nor the gradient (within 1e-6 absolute + 1e-5
relative, fp32: only the attention kernel's summation over masked keys differs).

The concatenated chosen+rejected forward is the only forward this project has (no separate-forward path
to compare with).
"""

from __future__ import annotations

import json

import torch

from plot_lightning.data.datamodule import PreferenceDataModule
from plot_lightning.forward import align_batch, causal_logits, preference_forward
from plot_lightning.module import PLOTModule


def loss_and_gradient(module: PLOTModule, batch: dict) -> tuple[float, torch.Tensor]:
    module.policy.zero_grad(set_to_none=True)
    aligned = align_batch(batch)
    reference = module._reference_outputs(aligned, batch, "train")
    logits = causal_logits(module.policy, aligned)
    total, _ = module.loss(
        preference_forward(logits, aligned, reference, cost_embedding=module.cost_embedding)
    )
    total.backward()
    return float(total), torch.cat([p.grad.flatten() for p in module.policy.parameters()])


def padded(batch: dict, extra: int, pad_id: int) -> dict:
    rows = batch["input_ids"].shape[0]
    grow = lambda tensor, value: torch.cat([tensor, torch.full((rows, extra), value, dtype=tensor.dtype)], 1)  # noqa: E731
    return {
        **batch,
        "input_ids": grow(batch["input_ids"], pad_id),
        "attention_mask": grow(batch["attention_mask"], 0),
        "labels": grow(batch["labels"], -100),
    }


def test_extra_padding_changes_nothing(tmp_path) -> None:
    rows = [
        {
            "prompt": f"Question {i}?",
            "chosen": "Mix flour and bake. " * (1 + i),
            "rejected": "No." * (1 + i % 2),
        }
        for i in range(4)
    ]
    data = tmp_path / "pairs.jsonl"
    data.write_text("\n".join(json.dumps(row) for row in rows))
    datamodule = PreferenceDataModule(
        str(data), tokenizer="tiny", batch_size=4, shuffle=False, val_fraction=0
    )
    datamodule.setup("fit")
    (batch,) = list(datamodule.train_dataloader())
    module = PLOTModule(model="tiny", losses=["dpo", "plot"], weights=[1.0, 0.5])
    module.configure_model()
    with torch.no_grad():  # policy != reference, so the DPO gradient is not the symmetric step-0 one
        module.policy.get_output_embeddings().weight.mul_(1.3)
    loss, gradient = loss_and_gradient(module, batch)
    loss_padded, gradient_padded = loss_and_gradient(module, padded(batch, 13, pad_id=0))
    assert abs(loss_padded - loss) <= 1e-6
    torch.testing.assert_close(gradient_padded, gradient, atol=1e-6, rtol=1e-5)
    assert float(gradient.abs().max()) > 1e-3
