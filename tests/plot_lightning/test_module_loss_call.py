"""The module calls its composite loss through ``nn.Module.__call__``: hooks on ``module.loss`` see every step."""

from __future__ import annotations

import pytest
import torch

from plot_lightning.module import PLOTModule
from tests.plot_lightning.test_module import datamodule, write_pairs


def test_a_forward_hook_on_the_loss_fires_once_per_step_and_sees_the_total(
    tmp_path, quiet_trainer, loss_recorder
) -> None:
    """Two training steps: the hook fires twice; what it sees as the total is the step's returned loss, and
    that total is sum_k w_k * loss/<k> of the terms it sees (DPO + 0.5 SFT)."""
    module = PLOTModule(model="tiny", losses=["dpo", "sft"], weights=[1.0, 0.5], grad_share_every=1)
    seen: list[tuple[float, float]] = []

    def hook(_loss, _inputs, output) -> None:
        total, terms = output
        expected = float(terms["loss/dpo"]) + 0.5 * float(terms["loss/sft"])
        seen.append((float(total.detach()), expected))

    module.loss.register_forward_hook(hook)
    recorder = loss_recorder()
    data = datamodule(write_pairs(tmp_path / "pairs.jsonl", count=4))
    quiet_trainer(max_steps=2, callbacks=[recorder]).fit(module, datamodule=data)
    assert len(seen) == 2
    for (total, expected), returned in zip(seen, recorder.losses, strict=True):
        assert total == pytest.approx(expected, rel=1e-6)
        assert total == pytest.approx(returned, rel=1e-6)


def test_grad_shares_are_still_measured_per_term(tmp_path, quiet_trainer) -> None:
    """Share of SFT vs DPO at step 0 logged: the per-term means still reach the instrumentation."""
    module = PLOTModule(model="tiny", losses=["dpo", "sft"], weights=[1.0, 0.5], grad_share_every=1)
    data = datamodule(write_pairs(tmp_path / "pairs.jsonl", count=4))
    trainer = quiet_trainer(max_steps=1)
    trainer.fit(module, datamodule=data)
    share = trainer.callback_metrics["train/grad_share/sft"]
    assert torch.isfinite(share) and float(share) > 0
