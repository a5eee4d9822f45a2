"""Identity Preference Optimisation (Azar et al., 2023, arXiv 2310.12036, eq. 17)."""

from __future__ import annotations

from torch import Tensor

from .registry import LOSSES
from .reward_term import RewardLoss
from .types import PreferenceForward


@LOSSES.register("ipo")
class IPOLoss(RewardLoss):
    """``loss = (h - 1/(2*beta))^2`` with ``h`` the difference of policy/reference log-ratios.

    Convention: ``beta`` plays the role of the paper's regulariser ``tau``, so the minimum sits at
    ``h = 1/(2*beta)`` (TRL's convention). With ``average=True`` (default, as TRL and the IPO authors'
    reported runs) each log-ratio is divided by its response length before the difference, so ``beta`` does
    not depend on response length; ``average=False`` uses summed log-probs (the paper's formula as written).
    The reward metrics use the summed log-ratios, beta-scaled.

    Args:
        beta: regularisation ``tau`` > 0; the target margin is ``1/(2*beta)``.
        average: length-normalise each side's log-ratio.
    """

    def __init__(self, beta: float = 0.1, average: bool = True) -> None:
        super().__init__(beta)
        self.average = bool(average)

    def pair_loss(self, chosen_logratios: Tensor, rejected_logratios: Tensor, batch: PreferenceForward):
        chosen_score, rejected_score = chosen_logratios, rejected_logratios
        if self.average:
            chosen_score = chosen_logratios / batch.chosen.lengths.clamp(min=1.0)
            rejected_score = rejected_logratios / batch.rejected.lengths.clamp(min=1.0)
        return (chosen_score - rejected_score - 1.0 / (2.0 * self.beta)) ** 2, {}
