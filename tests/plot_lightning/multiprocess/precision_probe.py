"""Train the tiny model one step per precision setting with one strategy and compare, inside the step, what the
module computed (PLOT cost, policy log-probs) with a plain fp32 computation on the same logits and the fp32
embedding of the freshly loaded model.

    python precision_probe.py --strategy {single,ddp,fsdp1,fsdp2} --data pairs.jsonl --out result.json

For the 2-process strategies the caller starts both ranks itself (``RANK``/``LOCAL_RANK``/``WORLD_SIZE``/
``MASTER_*`` set, like torchrun), so that one pair of processes runs every precision in turn (one Trainer per
precision, the process group reused). Rank 0 writes ``--out``: per precision, the largest absolute and
relative errors of the cost and of the log-probs, the embedding's dtype and error, the logits' dtype,
whether autocast was on in the step, and (DDP) the bytes of module buffers DDP broadcasts before a forward.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.strategies import DDPStrategy, ModelParallelStrategy

from plot_lightning.data.datamodule import PreferenceDataModule
from plot_lightning.losses.plot_cost import CostEmbedding
from plot_lightning.models.loading import load_causal_lm
from plot_lightning.module import PLOTModule
from plot_lightning.strategies.cpu_fsdp import CPUFSDPStrategy

PRECISIONS = ("32-true", "bf16-mixed", "bf16-true")
STRATEGIES = {
    "single": lambda: "auto",
    "ddp": lambda: DDPStrategy(process_group_backend="gloo"),
    "fsdp1": lambda: CPUFSDPStrategy(process_group_backend="gloo"),
    "fsdp2": lambda: ModelParallelStrategy(data_parallel_size=2, tensor_parallel_size=1),
}


def fp32_reference(side, unit_embedding: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logps (B,), dirac cosine cost (B,))`` from ``side.logits`` in plain fp32 torch, autocast off."""
    with torch.autocast("cpu", enabled=False):
        logits = side.logits.detach().float()  # (B, T, V)
        labels, mask = side.labels, side.mask
        token_logps = torch.log_softmax(logits, dim=-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
        logps = token_logps.masked_fill(~mask, 0.0).sum(-1)
        cost_rows = 1.0 - unit_embedding[labels] @ unit_embedding.T  # (B, T, V)
        cost_rows = cost_rows.clamp(0.0, 2.0).scatter(-1, labels.unsqueeze(-1), 0.0)
        per_token = (torch.softmax(logits, dim=-1) * cost_rows).sum(-1)
        cost = per_token.masked_fill(~mask, 0.0).sum(-1) / mask.sum(-1)
    return logps, cost


def errors(found: torch.Tensor, expected: torch.Tensor) -> tuple[float, float]:
    """Largest absolute error and largest error relative to ``max(1, |expected|)``."""
    diff = (found.detach().double() - expected.double()).abs()
    return float(diff.max()), float((diff / expected.double().abs().clamp(min=1.0)).max())


class Recorder:
    """Forward hook on the PLOT term: compares its input log-probs and its output cost with fp32."""

    def __init__(self, unit_embedding: torch.Tensor) -> None:
        self.unit_embedding = unit_embedding
        self.rows: list[dict] = []

    def __call__(self, term, args, output) -> None:
        batch = args[0]
        logps, cost = fp32_reference(batch.chosen, self.unit_embedding)
        rejected_logps, _ = fp32_reference(batch.rejected, self.unit_embedding)
        logps_found = torch.cat([batch.chosen.logps, batch.rejected.logps])
        embedding = batch.cost_embedding  # a shared CostEmbedding (the reference's lm_head) or the fp32 copy
        if isinstance(embedding, CostEmbedding):
            embedding = embedding.unit_rows()
        self.rows.append(
            {
                "cost": errors(output.loss, cost),
                "logps": errors(logps_found, torch.cat([logps, rejected_logps])),
                "logps_dtype": str(batch.chosen.logps.dtype),
                "cost_dtype": str(output.loss.dtype),
                "logits_dtype": str(batch.chosen.logits.dtype),
                "embedding_dtype": str(embedding.dtype),
                "embedding_error": float((embedding.double() - self.unit_embedding.double()).abs().max()),
                "autocast_in_step": torch.is_autocast_enabled("cpu"),  # inside the loss term
            }
        )


class BufferProbe(pl.Callback):
    """Bytes of the buffers the DDP wrapper broadcasts from rank 0 before each forward (0 when it does not)."""

    def __init__(self) -> None:
        self.broadcast_bytes: int | None = None

    def on_train_start(self, trainer, pl_module) -> None:
        wrapped = trainer.strategy.model
        if isinstance(wrapped, torch.nn.parallel.DistributedDataParallel):
            buffers = list(wrapped.module.buffers()) if wrapped.broadcast_buffers else []
            self.broadcast_bytes = sum(b.numel() * b.element_size() for b in buffers)


def run(strategy: str, precision: str, data: Path, expected: torch.Tensor) -> dict:
    pl.seed_everything(0)
    devices = 1 if strategy == "single" else 2
    # the logits head: the oracle recomputes from the logits it hands the losses (the fused head's precision
    # is checked in tests/plot_lightning/heads/test_fused_module.py and benchmarks/precision_check.py)
    module = PLOTModule(model="tiny", losses=["dpo", "plot"], weights=[1.0, 0.5], fused_head=False)
    recorder = Recorder(expected)
    module.loss.terms["plot"].register_forward_hook(recorder)
    probe = BufferProbe()
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=devices,
        strategy=STRATEGIES[strategy](),
        precision=precision,
        max_steps=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        callbacks=[probe],
    )
    trainer.fit(module, datamodule=PreferenceDataModule(str(data), tokenizer="tiny", batch_size=2))
    row = recorder.rows[0]
    worst = {
        key: [float(trainer.strategy.reduce(torch.tensor(v), reduce_op="max")) for v in row[key]]
        for key in ("cost", "logps")
    }
    return {**row, **worst, "broadcast_bytes": probe.broadcast_bytes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategy", choices=sorted(STRATEGIES), required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    weight = load_causal_lm("tiny").get_output_embeddings().weight.detach().float()
    expected = torch.nn.functional.normalize(weight, dim=-1)
    results = {precision: run(args.strategy, precision, args.data, expected) for precision in PRECISIONS}
    results["embedding_bytes"] = expected.numel() * expected.element_size()
    if not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
