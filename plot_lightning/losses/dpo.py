"""Direct Preference Optimization, sigmoid form (Rafailov et al., 2023, arXiv 2305.18290, eq. 7)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from .registry import LOSSES
from .reward_term import RewardLoss
from .types import PreferenceForward


@LOSSES.register("dpo")
class DPOLoss(RewardLoss):
    """``loss = -log sigmoid(beta * h)``, ``h = (log pi(y_w) - log ref(y_w)) - (log pi(y_l) - log ref(y_l))``.

    Summed log-probs over the response tokens. With policy == reference, ``h = 0`` and the loss is ``ln 2``.

    Args:
        beta: inverse temperature of the implicit reward ``beta * log(pi / ref)``; > 0.
    """

    def pair_loss(self, chosen_logratios: Tensor, rejected_logratios: Tensor, batch: PreferenceForward):
        return -F.logsigmoid(self.beta * (chosen_logratios - rejected_logratios)), {}
