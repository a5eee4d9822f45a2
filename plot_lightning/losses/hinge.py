"""Hinge preference loss (SLiC-style, Zhao et al., 2023, arXiv 2305.10425, with a reference model)."""

from __future__ import annotations

import torch
from torch import Tensor

from .registry import LOSSES
from .reward_term import RewardLoss
from .types import PreferenceForward


@LOSSES.register("hinge")
class HingeLoss(RewardLoss):
    """``loss = max(0, 1 - beta * h)``, ``h`` the difference of policy/reference log-ratios (TRL's hinge).

    Zero, with zero gradient, once the scaled margin ``beta * h`` reaches 1.

    Args:
        beta: scale of the margin (the hinge's margin is ``1/beta`` in log-ratio units); > 0.
    """

    def pair_loss(self, chosen_logratios: Tensor, rejected_logratios: Tensor, batch: PreferenceForward):
        return torch.relu(1.0 - self.beta * (chosen_logratios - rejected_logratios)), {}
