"""Train the tiny model for a few steps with one strategy on CPU and write what the tests compare to JSON.

    python train_strategy.py --strategy {single,ddp,fsdp1,fsdp2} --data pairs.jsonl --out result.json \
        [--losses dpo,plot --weights 1,0.1 --steps 3 --global-batch 4 --fused-head --plot-variant sinkhorn]

Run it as a fresh process with a clean environment (no MASTER_*, RANK, LOCAL_RANK, WORLD_SIZE, LT_*, PL_*):
Lightning's launcher starts rank 1 by re-running this same command line. Rank 0 writes ``--out``:
``losses`` (per step, averaged over ranks = the loss of the global batch), ``policy``/``reference``/``initial``
checksums of the full (unsharded) weights, ``steps_per_s`` and ``peak_rss_mb`` (max over ranks).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.strategies import DDPStrategy, ModelParallelStrategy
from torch.utils.data import DataLoader, DistributedSampler

from plot_lightning.data.datamodule import PreferenceDataModule
from plot_lightning.models.loading import load_causal_lm
from plot_lightning.module import PLOTModule
from plot_lightning.strategies.cpu_fsdp import CPUFSDPStrategy

STRATEGIES = {
    "single": lambda: "auto",
    "ddp": lambda: DDPStrategy(process_group_backend="gloo"),
    "fsdp1": lambda: CPUFSDPStrategy(process_group_backend="gloo"),
    "fsdp2": lambda: ModelParallelStrategy(data_parallel_size=2, tensor_parallel_size=1),
}


def write_pairs(path: Path, count: int = 16) -> Path:
    """Standard-format preference pairs of varied lengths with two subpreferences."""
    rows = [
        {
            "prompt": f"Question {i}: how do I bake bread?",
            "chosen": "Mix flour, water, yeast and salt, knead, then bake. " * (1 + i % 3),
            "rejected": "I am sorry, but I cannot help with that." + " No." * (i % 2),
            "subpreference": ("helpfulness", "math")[i % 2],
        }
        for i in range(count)
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows))
    return path


class InOrderData(PreferenceDataModule):
    """Rank r takes examples r, r + W, r + 2W, ... in order, so each step's global batch is the same rows as
    one process with the global batch size (Lightning's own distributed sampler always shuffles training)."""

    def train_dataloader(self) -> DataLoader:
        self.setup("fit")
        sampler = DistributedSampler(
            self.train_dataset,
            num_replicas=self.trainer.world_size,
            rank=self.trainer.global_rank,
            shuffle=False,
        )
        return DataLoader(
            self.train_dataset, batch_size=self.batch_size, sampler=sampler, collate_fn=self.collator
        )


def checksum(named: dict[str, torch.Tensor]) -> list[float]:
    """Position-weighted float64 sums of all tensors (order-sensitive, comparable across shardings)."""
    total, weighted = 0.0, 0.0
    for name in sorted(named):
        flat = named[name].detach().to(torch.float64).reshape(-1)
        total += float(flat.sum())
        weighted += float((flat * (1 + torch.arange(flat.numel(), dtype=torch.float64) % 97)).sum())
    return [total, weighted]


def full_parameters(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Full parameter tensors (DTensor shards of FSDP2 gathered)."""
    named = {}
    for name, param in module.named_parameters():
        named[name] = param.full_tensor() if hasattr(param, "full_tensor") else param
    return named


def is_sharded(module: torch.nn.Module | None) -> bool:
    """Whether ``module`` holds FSDP1 units or FSDP2 DTensor parameters."""
    from torch.distributed.fsdp import FullyShardedDataParallel

    if module is None:
        return False
    fsdp1 = any(isinstance(m, FullyShardedDataParallel) for m in module.modules())
    return fsdp1 or any(hasattr(p, "full_tensor") for p in module.parameters())


class Probe(pl.Callback):
    """Records the global-batch loss per step and, at the end, full-weight checksums of both models."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.result: dict = {}
        self.step_ends: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = trainer.strategy.reduce(outputs["loss"].detach().clone(), reduce_op="mean")
        self.losses.append(float(loss))
        self.step_ends.append(time.perf_counter())

    def on_train_end(self, trainer, pl_module) -> None:
        wrapped = trainer.strategy.model
        if isinstance(trainer.strategy, CPUFSDPStrategy):
            from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

            with FSDP.summon_full_params(wrapped, writeback=False):
                self.result = self._checksums(pl_module)
        else:
            self.result = self._checksums(pl_module)
        self.result["reference_sharded"] = is_sharded(pl_module.reference)
        rss = torch.tensor(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
        self.result["peak_rss_mb"] = float(trainer.strategy.reduce(rss, reduce_op="max"))
        # The first step (lazy initialisation, FSDP set-up) is left out of the rate.
        timed = self.step_ends[-1] - self.step_ends[0]
        self.result["steps_per_s"] = (len(self.step_ends) - 1) / timed if timed > 0 else float("nan")

    @staticmethod
    def _checksums(pl_module) -> dict:
        result = {"policy": checksum(full_parameters(pl_module.policy))}
        if pl_module.reference is not None:
            result["reference"] = checksum(full_parameters(pl_module.reference))
        return result


def plot_args(variant: str) -> dict:
    """PLOT settings; sinkhorn with K = 8 and epsilon 0.1 so that it converges on the tiny model."""
    if variant == "sinkhorn":
        return {"plot": {"variant": "sinkhorn", "top_k": 8, "epsilon": 0.1, "max_iter": 300}}
    return {"plot": {"variant": variant}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategy", choices=sorted(STRATEGIES), required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--losses", default="dpo,sft")
    parser.add_argument("--weights", default="1,0.5")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--global-batch", type=int, default=4)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--lr", type=float, default=0.5, help="SGD learning rate")
    parser.add_argument("--fused-head", action="store_true", help="PLOTModule(fused_head=True)")
    parser.add_argument("--plot-variant", default="dirac", help="loss_args.plot.variant (with a plot loss)")
    parser.add_argument(
        "--prefix-sharing", action="store_true", help="PLOTModule(prefix_sharing=True), else False"
    )
    args = parser.parse_args()

    devices = 1 if args.strategy == "single" else 2
    pl.seed_everything(0)
    lr = args.lr
    module = PLOTModule(
        model=args.model,
        losses=args.losses.split(","),
        weights=[float(w) for w in args.weights.split(",")],
        fused_head=args.fused_head,
        fused_chunk_size=16,
        prefix_sharing=args.prefix_sharing,
        loss_args=plot_args(args.plot_variant) if "plot" in args.losses.split(",") else {},
        # SGD, not Adam: Adam's first step is ~lr * sign(grad), which turns float noise into large differences.
        optimizer=lambda params: torch.optim.SGD(params, lr=lr),
    )
    data = InOrderData(
        str(args.data), tokenizer=args.model, batch_size=args.global_batch // devices, shuffle=False
    )
    probe = Probe()
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=devices,
        strategy=STRATEGIES[args.strategy](),
        max_steps=args.steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        use_distributed_sampler=False,
        callbacks=[probe],
    )
    trainer.fit(module, datamodule=data)
    if trainer.is_global_zero:
        initial = checksum(dict(load_causal_lm(args.model).named_parameters()))
        result = {"strategy": args.strategy, "losses": probe.losses, "initial": initial, **probe.result}
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
