"""``OverheadMonitor`` logs, per training step, ``perf/step_s``, ``perf/tokens_per_s`` (non-padding tokens),
``perf/padding_fraction``, ``perf/peak_memory_mb``; on GPU also ``perf/mfu``.

PLOT's work runs inside the heads' chunks, so it is not timed separately: compare ``perf/tokens_per_s`` of a
DPO run and a DPO+PLOT run.

Peak memory: ``torch.cuda.max_memory_allocated`` since the step started on GPU; on CPU the process's peak
resident set so far (``ru_maxrss``, monotone). MFU: ``8 x parameters x tokens / step_s / peak`` (policy
forward + backward = 6N, reference forward = 2N per token; attention left out) with the device's peak
bf16 dense FLOP/s from ``peak_tflops`` or, for known GPUs, a small table; unknown devices log no MFU.
"""

from __future__ import annotations

import resource
import time

import lightning.pytorch as pl
import torch

PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10": 125.0}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class OverheadMonitor(pl.Callback):
    """Per-step throughput, step time, peak memory and (GPU) MFU; see the module docstring.

    Args:
        peak_tflops: the device's peak dense TFLOP/s for MFU (default: looked up for known GPUs).
    """

    def __init__(self, peak_tflops: float | None = None) -> None:
        self.peak_tflops = peak_tflops
        self._start = 0.0
        self._parameters = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(pl_module.device)
        _sync(pl_module.device)
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        _sync(pl_module.device)
        step_s = time.perf_counter() - self._start
        tokens = float(batch["attention_mask"].sum())
        values = {"perf/step_s": step_s, "perf/tokens_per_s": tokens / max(step_s, 1e-9)}
        values["perf/padding_fraction"] = 1.0 - tokens / batch["attention_mask"].numel()
        values["perf/peak_memory_mb"] = self._peak_memory_mb(pl_module.device)
        mfu = self._mfu(pl_module, tokens, step_s)
        if mfu is not None:
            values["perf/mfu"] = mfu
        for name, value in values.items():
            pl_module.log(name, value, on_step=True, on_epoch=False, batch_size=1)

    @staticmethod
    def _peak_memory_mb(device: torch.device) -> float:
        if device.type == "cuda":
            return torch.cuda.max_memory_allocated(device) / 2**20
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    def _mfu(self, pl_module, tokens: float, step_s: float) -> float | None:
        if pl_module.device.type != "cuda":
            return None
        peak = self.peak_tflops
        if peak is None:
            name = torch.cuda.get_device_name(pl_module.device)
            peak = next((value for key, value in PEAK_BF16_TFLOPS.items() if key in name), None)
        if peak is None:
            return None
        if not self._parameters:
            self._parameters = sum(p.numel() for p in pl_module.policy.parameters())
        return 8.0 * self._parameters * tokens / step_s / (peak * 1e12)
