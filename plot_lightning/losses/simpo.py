"""SimPO: reference-free, length-normalised preference loss (Meng et al., 2024, arXiv 2405.14734, eq. 6)."""

from __future__ import annotations

import torch.nn.functional as F

from plot_lightning.tensor_checks import positive

from .logprobs import pair_logps
from .metrics import reward_metrics
from .registry import LOSSES
from .term import LossTerm, TokenNeeds
from .types import LossOutput, PreferenceForward


@LOSSES.register("simpo")
class SimPOLoss(LossTerm):
    """``loss = -log sigmoid(beta * (avg log pi(y_w) - avg log pi(y_l)) - gamma)``.

    ``avg`` is the mean log-prob per response token; the implicit reward is ``beta * avg log pi(y)``.
    TRL's SimPO: ``CPOTrainer`` with ``loss_type="simpo"`` and ``cpo_alpha=0``; our ``gamma`` is its
    ``simpo_gamma`` (TRL's defaults are ``beta=0.1, simpo_gamma=0.5``; ours are the paper's).

    Args:
        beta: reward scale, > 0 (the paper uses 2.0-2.5).
        gamma: target reward margin (the paper uses ``gamma/beta`` around 0.5, so about 1.0-1.6).
    """

    needs = TokenNeeds(rejected=True)

    def __init__(self, beta: float = 2.0, gamma: float = 1.0) -> None:
        super().__init__()
        self.beta = positive("beta", beta)
        self.gamma = float(gamma)

    def forward(self, batch: PreferenceForward) -> LossOutput:
        """Per-example ``(B,)`` loss plus the length-normalised rewards as metrics."""
        pair_logps(batch, "simpo")
        chosen_rewards = self.beta * batch.chosen.avg_logps
        rejected_rewards = self.beta * batch.rejected.avg_logps
        loss = -F.logsigmoid(chosen_rewards - rejected_rewards - self.gamma)
        return LossOutput(loss=loss, metrics=reward_metrics(chosen_rewards, rejected_rewards))
