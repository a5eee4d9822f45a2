"""Default optimizer and the optional linear warm-up of the learning rate."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, SequentialLR

DEFAULT_LR = 5e-6


def default_optimizer(params: Iterable) -> Optimizer:
    """AdamW with learning rate 5e-6 (a common preference-tuning default); weight decay 0."""
    return torch.optim.AdamW(params, lr=DEFAULT_LR, weight_decay=0.0)


def with_warmup(optimizer: Optimizer, scheduler: LRScheduler | None, warmup_steps: int) -> LRScheduler | None:
    """``scheduler`` preceded by a linear warm-up of ``warmup_steps`` (stepped per optimizer step): the LR is
    scaled by ``(step + 1) / warmup_steps`` for the first ``warmup_steps`` steps, then by 1."""
    if warmup_steps <= 0:
        return scheduler
    warmup = LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup_steps))
    if scheduler is None:
        return warmup
    return SequentialLR(optimizer, [warmup, scheduler], milestones=[warmup_steps])
