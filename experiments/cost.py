"""Training cost of a cell: a Lightning callback that times optimizer steps and counts tokens, and its summary.

Each training session (a resumed cell has several) writes ``<cell>/cost/session-<start>.json`` with the wall
time of every training batch (forward + backward + optimizer step, as Lightning runs them), the number of
non-padding tokens summed over ranks, the world size and the peak memory (CUDA allocator peak on GPU, else
the process's max RSS). :func:`summarize_cost` pools the sessions: tokens/s, median step time, peak memory.
"""

from __future__ import annotations

import json
import resource
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer


class TrainingCostMeter(Callback):
    """Writes one JSON per training session to ``output_dir`` (rank 0).

    Args:
        output_dir: folder of the session files (created).
    """

    def __init__(self, output_dir: str) -> None:
        self.output_dir = Path(output_dir)
        self.step_seconds: list[float] = []
        self.tokens = 0
        self._start = 0.0
        self._session = time.strftime("%Y%m%dT%H%M%S")

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if torch.cuda.is_available() and batch_idx == 0:
            torch.cuda.reset_peak_memory_stats()
        self.tokens += int(batch["attention_mask"].sum()) if "attention_mask" in batch else 0
        self._start = time.perf_counter()

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx
    ) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.step_seconds.append(time.perf_counter() - self._start)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._write(trainer, complete=True)

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        self._write(trainer, complete=False)

    def _write(self, trainer: Trainer, *, complete: bool) -> None:
        tokens = torch.tensor(float(self.tokens))
        if trainer.world_size > 1 and complete:  # a collective after an exception could hang
            tokens = trainer.strategy.reduce(tokens, reduce_op="sum")
        if trainer.global_rank != 0 or not self.step_seconds:
            return
        cuda = torch.cuda.is_available()
        peak = (
            torch.cuda.max_memory_allocated()
            if cuda
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        )
        payload = {
            "step_seconds": self.step_seconds,
            "tokens": float(tokens),
            "world_size": trainer.world_size,
            "peak_memory_bytes": int(peak),
            "peak_memory_kind": "cuda_max_allocated" if cuda else "process_max_rss",
            "global_step": trainer.global_step,
            "complete": complete,
        }
        self.output_dir.mkdir(parents=True, exist_ok=True)
        path = self.output_dir / f"session-{self._session}.json"
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(payload) + "\n", encoding="utf-8")
        tmp.replace(path)


def summarize_cost(cost_dir: Path) -> dict[str, float]:
    """Pooled over sessions: ``tokens_per_s``, ``step_time_s`` (median), ``peak_memory_gib``, ``train_steps``."""
    sessions = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(cost_dir.glob("session-*.json"))]
    steps = [s for session in sessions for s in session["step_seconds"]]
    if not steps:
        return {}
    tokens = sum(session["tokens"] for session in sessions)
    return {
        "tokens_per_s": tokens / sum(steps),
        "step_time_s": statistics.median(steps),
        "peak_memory_gib": max(session["peak_memory_bytes"] for session in sessions) / 2**30,
        "train_steps": float(len(steps)),
    }
