"""Training invariants of DPO+PLOT (as TRL's training-invariance tests) and validation metrics per process count.

    python invariance_probe.py --strategy {single,ddp} --data pairs.jsonl --out result.json

``single`` runs one SGD step on the 8 pairs as batch 8, then as batch 1 with 8 accumulation steps, and validates
at batch sizes 4 and 1; ``ddp`` (both ranks started by the caller, torchrun-style) runs batch 4 on each of 2
ranks and validates at batch sizes 2 and 1 per rank. Rank 0 writes per run the loss of the global batch (mean
of the micro-batch losses) and the policy gradient (``<out>.<run>.pt``), and the logged validation metrics.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.strategies import DDPStrategy

from plot_lightning.data.datamodule import PreferenceDataModule
from plot_lightning.module import PLOTModule

sys.path.insert(0, str(Path(__file__).parent))
from train_strategy import InOrderData  # noqa: E402 - rank r takes rows r, r + W, ... (no shuffling)


class GradientProbe(pl.Callback):
    """The gradient the optimiser steps with (after accumulation and the DDP all-reduce)."""

    def __init__(self) -> None:
        self.gradient: torch.Tensor | None = None

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        grads = [p.grad.detach().flatten() for p in pl_module.policy.parameters() if p.grad is not None]
        self.gradient = torch.cat(grads).double().clone()


def build(losses_seen: list[float]) -> PLOTModule:
    pl.seed_everything(0)
    module = PLOTModule(
        model="tiny",
        losses=["dpo", "plot"],
        weights=[1.0, 0.5],
        optimizer=lambda params: torch.optim.SGD(params, lr=0.5),
    )
    # The total of each loss evaluation, as the composite returns it (the module calls it through __call__).
    module.loss.register_forward_hook(lambda _loss, _args, output: losses_seen.append(float(output[0])))
    return module


def trainer(devices: int, **overrides) -> pl.Trainer:
    strategy = DDPStrategy(process_group_backend="gloo") if devices > 1 else "auto"
    settings = dict(
        accelerator="cpu",
        devices=devices,
        strategy=strategy,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    return pl.Trainer(**{**settings, **overrides})


def train_once(data: Path, devices: int, batch_size: int, accumulate: int) -> tuple[float, torch.Tensor]:
    losses: list[float] = []
    module, probe = build(losses), GradientProbe()
    datamodule = InOrderData(str(data), tokenizer="tiny", batch_size=batch_size, shuffle=False)
    fit = trainer(
        devices,
        max_steps=1,
        accumulate_grad_batches=accumulate,
        limit_val_batches=0,
        callbacks=[probe],
        use_distributed_sampler=False,
    )
    fit.fit(module, datamodule=datamodule)
    loss = fit.strategy.reduce(torch.tensor(sum(losses) / len(losses)), reduce_op="mean")
    return float(loss), probe.gradient


def validate(data: Path, devices: int, batch_size: int) -> dict[str, float]:
    module = build([])
    datamodule = PreferenceDataModule(str(data), val_files=str(data), tokenizer="tiny", batch_size=batch_size)
    (results,) = trainer(devices).validate(module, datamodule=datamodule, verbose=False)
    return {key: float(value) for key, value in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategy", choices=["single", "ddp"], required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    devices = 1 if args.strategy == "single" else 2
    runs = {"batch8": (8, 1), "batch1x8": (1, 8)} if devices == 1 else {"ddp2x4": (4, 1)}
    result: dict = {"train": {}, "val": {}}
    for name, (batch_size, accumulate) in runs.items():
        loss, gradient = train_once(args.data, devices, batch_size, accumulate)
        result["train"][name] = loss
        if not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0:
            torch.save(gradient, f"{args.out}.{name}.pt")
    for batch_size in (4, 1) if devices == 1 else (2, 1):
        result["val"][f"{devices}x{batch_size}"] = validate(args.data, devices, batch_size)
    if not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
