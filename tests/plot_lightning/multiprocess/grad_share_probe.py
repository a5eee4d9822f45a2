"""One DDP training step (2 ranks, gloo) with ``weight_shares`` and ``grad_share_every``; each rank writes
what it logged and its own local gradient-norm ratio, measured by an oracle before the step.

    python grad_share_probe.py --data pairs.jsonl --out-prefix /tmp/rank   (writes /tmp/rank<r>.json)

Run it as a fresh process with a clean environment: Lightning's launcher re-runs this command as rank 1.
The oracle builds a separate forward per term and takes ``torch.autograd.grad`` of it (not ``backward``,
which would fire DDP's all-reduce hooks), norms summed by hand.
"""

from __future__ import annotations

import argparse
import json
import math

import lightning.pytorch as pl
import torch
from lightning.pytorch.strategies import DDPStrategy

from plot_lightning.data.datamodule import PreferenceDataModule
from plot_lightning.forward import align_batch
from plot_lightning.module import PLOTModule


class Oracle(pl.Callback):
    """Before the first step: this rank's ||g_plot|| / ||g_dpo|| from separate passes."""

    def __init__(self) -> None:
        self.ratio: float | None = None

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if self.ratio is not None:
            return
        params = [p for p in module.policy.parameters() if p.requires_grad]
        norms = {}
        for name in module.loss.names:
            aligned = align_batch(batch)
            forward = module._policy_forward(aligned, module._reference_outputs(aligned, batch, "train"))
            grads = torch.autograd.grad(
                module.loss.terms[name](forward).loss.mean(), params, allow_unused=True
            )
            norms[name] = math.sqrt(sum(float((g**2).sum()) for g in grads if g is not None))
        self.ratio = norms["plot"] / norms["dpo"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--out-prefix", required=True)
    args = parser.parse_args()
    module = PLOTModule(model="tiny", model_dtype="float64", weight_shares={"plot": 0.15}, grad_share_every=1)
    data = PreferenceDataModule(args.data, tokenizer="tiny", batch_size=2, shuffle=False)
    oracle = Oracle()
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=2,
        strategy=DDPStrategy(process_group_backend="gloo"),
        max_steps=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=[oracle],
    )
    trainer.fit(module, datamodule=data)
    logged = {
        key: float(value)
        for key, value in trainer.callback_metrics.items()
        if "share" in key or "calib" in key
    }
    result = {
        "rank": trainer.global_rank,
        "ratio": oracle.ratio,
        "weight": module.loss.weights[1],
        "logged": logged,
    }
    with open(f"{args.out_prefix}{trainer.global_rank}.json", "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main()
