"""The callback ``benchmarks/fsdp_gpu.py`` adds to each run: per-step wall time and peak memory, one JSON per rank.

Loaded by the CLI as ``fsdp_gpu_callback.StepTimer`` (the benchmark puts ``benchmarks/`` on ``PYTHONPATH``).
Each rank writes ``<out_dir>/rank<N>.json`` itself (no collective, so a failing rank cannot hang the others):
``step_s`` (wall time of every optimizer step, CUDA synchronized), ``peak_bytes`` (CUDA:
``max_memory_allocated`` since training started; CPU: the process's max RSS), device name and world size.
"""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import torch
from lightning.pytorch import Callback


class StepTimer(Callback):
    """Times every training step and records peak memory; writes ``<out_dir>/rank<N>.json`` at the end.

    Args:
        out_dir: folder for the per-rank JSON files (created).
    """

    def __init__(self, out_dir: str) -> None:
        self.out_dir = Path(out_dir)
        self.last: float | None = None
        self.step_s: list[float] = []

    def _cuda(self, trainer) -> bool:
        return trainer.strategy.root_device.type == "cuda"

    def _now(self, trainer) -> float:
        if self._cuda(trainer):
            torch.cuda.synchronize(trainer.strategy.root_device)
        return time.perf_counter()

    def on_train_start(self, trainer, pl_module) -> None:
        if self._cuda(trainer):  # the peak of training, not of loading the full model before sharding
            torch.cuda.reset_peak_memory_stats(trainer.strategy.root_device)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.last is None:
            self.last = self._now(trainer)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = self._now(trainer)  # step time = end-to-end interval, data loading included
        self.step_s.append(now - self.last)
        self.last = now

    def on_train_end(self, trainer, pl_module) -> None:
        device = trainer.strategy.root_device
        if self._cuda(trainer):
            peak, name = torch.cuda.max_memory_allocated(device), torch.cuda.get_device_name(device)
        else:
            peak, name = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "cpu"
        result = {
            "rank": trainer.global_rank,
            "world_size": trainer.world_size,
            "device": device.type,
            "device_name": name,
            "precision": str(trainer.precision),
            "steps": trainer.global_step,
            "step_s": self.step_s,
            "peak_bytes": int(peak),
        }
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / f"rank{trainer.global_rank}.json").write_text(json.dumps(result))
