"""Whether a model can take a fast path (the fused head, prefix sharing), decided once per model object and
the same on every process, with at most one warning per model object where it falls back.

The probes are forwards of the model, which are collectives under FSDP, so every rank probes on the same
step; the verdict is then reduced over the process group, so all ranks take the same path.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable

import torch
import torch.distributed as dist
from torch import nn


def any_rank(failed: bool, device: torch.device) -> bool:
    """Whether any process of the default group failed (the local verdict outside a process group)."""
    if not (dist.is_available() and dist.is_initialized()):
        return failed
    flag = torch.tensor([float(failed)], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


class ModelVerdicts:
    """One fast path's verdicts, kept per model object for the object's lifetime."""

    def __init__(self) -> None:
        self._problems: weakref.WeakKeyDictionary[nn.Module, str | None] = weakref.WeakKeyDictionary()
        self._warned: weakref.WeakSet[nn.Module] = weakref.WeakSet()

    def problem(self, model: nn.Module, device: torch.device, probe: Callable[[], str | None]) -> str | None:
        """Why ``model`` cannot take the path, or None: ``probe()`` (this rank's reason, or None) on the first
        call for ``model``, on every rank together; the kept verdict after. A rank whose own probe passed
        while another's failed gets "another process's check failed"."""
        if model not in self._problems:
            problem = probe()
            failed = any_rank(problem is not None, device)
            self._problems[model] = problem or ("another process's check failed" if failed else None)
        return self._problems[model]

    def warn_once(self, model: nn.Module, message: str) -> None:
        """``warnings.warn(message)`` the first time for ``model`` (attributed to the fast path's caller)."""
        if model not in self._warned:
            self._warned.add(model)
            warnings.warn(message, stacklevel=3)
