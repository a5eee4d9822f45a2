"""Identity Preference Optimisation (Azar et al., 2023, arXiv 2310.12036, eq. 17)."""

from __future__ import annotations

from .logprobs import reference_logratios
from .metrics import reward_metrics
from .registry import LOSSES
from .term import LossTerm, TokenNeeds
from .types import LossOutput, PreferenceForward


@LOSSES.register("ipo")
class IPOLoss(LossTerm):
    """``loss = (h - 1/(2*beta))^2`` with ``h`` the difference of policy/reference log-ratios.

    Convention: ``beta`` plays the role of the paper's regulariser ``tau``, so the minimum sits at
    ``h = 1/(2*beta)`` (TRL's convention). With ``average=True`` (default, as TRL and the IPO authors'
    reported runs) each log-ratio is divided by its response length before the difference, so ``beta`` does
    not depend on response length; ``average=False`` uses summed log-probs (the paper's formula as written).

    Args:
        beta: regularisation ``tau`` > 0; the target margin is ``1/(2*beta)``.
        average: length-normalise each side's log-ratio.
    """

    needs = TokenNeeds(reference=True, rejected=True)

    def __init__(self, beta: float = 0.1, average: bool = True) -> None:
        super().__init__()
        if not beta > 0:
            raise ValueError(f"'beta' must be > 0, got {beta}")
        self.beta = float(beta)
        self.average = bool(average)

    def forward(self, batch: PreferenceForward) -> LossOutput:
        """Per-example ``(B,)`` squared error to the target margin, plus reward metrics (summed, beta-scaled)."""
        chosen_logratios, rejected_logratios = reference_logratios(batch, "ipo")
        chosen_score, rejected_score = chosen_logratios, rejected_logratios
        if self.average:
            chosen_score = chosen_logratios / batch.chosen.lengths.clamp(min=1.0)
            rejected_score = rejected_logratios / batch.rejected.lengths.clamp(min=1.0)
        loss = (chosen_score - rejected_score - 1.0 / (2.0 * self.beta)) ** 2
        metrics = reward_metrics(self.beta * chosen_logratios, self.beta * rejected_logratios)
        return LossOutput(loss=loss, metrics=metrics)
