"""Peak resident memory of the training steps alone, loading left out (Linux ``/proc``).

``ru_maxrss`` is the whole process's peak, model loading included: two libraries that load the same weights
differently (a second ``from_pretrained`` against a deep copy) then differ by a transient that training never
sees again. :func:`start_step_window` resets the kernel's high-water mark (``VmHWM``) at the start of the first
step (writing ``5`` to ``/proc/self/clear_refs``), so :func:`step_peak_mb` read at the end is the peak over the
steps: weights, gradients, optimizer state and each step's activations and buffers.

On a CUDA run (CUDA initialised in this process) the window is the GPU's instead: the allocator's peak
(``torch.cuda.max_memory_allocated``) is reset at the first step, and :func:`step_peak_mb` reads it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_STATUS, _CLEAR = Path("/proc/self/status"), Path("/proc/self/clear_refs")


def _on_cuda() -> bool:
    torch = sys.modules.get("torch")  # never imported here: an import would raise the resident set itself
    return torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized()


def start_step_window() -> None:
    """Reset ``VmHWM`` to the current RSS, and CUDA's peak (call once, at the start of the first step)."""
    if _on_cuda():
        sys.modules["torch"].cuda.reset_peak_memory_stats()
    _CLEAR.write_text("5")


def synchronize() -> None:
    """Wait for queued CUDA work (a step clock reads the time after the step really ended); no-op on CPU."""
    if _on_cuda():
        sys.modules["torch"].cuda.synchronize()


def _status_mb(field: str) -> float:
    match = re.search(rf"{field}:\s+(\d+) kB", _STATUS.read_text())
    if match is None:
        raise RuntimeError(f"no {field} line in {_STATUS}")
    return int(match.group(1)) / 1024


def step_peak_mb() -> float:
    """The peak since :func:`start_step_window` in MB: CUDA's allocated peak on a CUDA run, else ``VmHWM``."""
    if _on_cuda():
        return sys.modules["torch"].cuda.max_memory_allocated() / 2**20
    return _status_mb("VmHWM")


def resident_mb() -> float:
    """``VmRSS`` in MB: the resident memory now."""
    return _status_mb("VmRSS")
