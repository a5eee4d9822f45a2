"""PRO: Preference Ranking Optimisation (Song et al., AAAI 2024, arXiv 2306.17492), pairwise form."""

from __future__ import annotations

import torch

from plot_lightning.tensor_checks import positive

from .logprobs import pair_logps
from .registry import LOSSES
from .term import LossTerm, TokenNeeds
from .types import LossOutput, PreferenceForward


@LOSSES.register("pro")
class PROLoss(LossTerm):
    """``loss = -log softmax([s_w, s_l])[0] + sft_weight * NLL(y_w)``, ``s = avg log pi(y) / temperature``.

    PRO scores each candidate by its length-normalised log-likelihood and maximises the Plackett-Luce
    likelihood of the human ranking, ``-sum_k log(exp(s_k) / sum_{i>=k} exp(s_i))``, plus an SFT term on
    the best candidate. With two candidates only ``k = 1`` remains: a 2-way softmax cross-entropy,
    ``log(1 + exp(s_l - s_w))``. ``NLL`` is the mean negative log-prob per chosen token. Not implemented:
    the paper's reward-model-based dynamic temperature (needs reward scores we do not have); a constant
    ``temperature`` divides the scores instead. Default ``sft_weight = 0.05`` is the paper's
    ``0.05 * (n - 1)^2`` for ``n = 2`` candidates.

    Args:
        sft_weight: weight of the SFT term, >= 0.
        temperature: divides the scores, > 0.
    """

    needs = TokenNeeds(rejected=True)

    def __init__(self, sft_weight: float = 0.05, temperature: float = 1.0) -> None:
        super().__init__()
        self.sft_weight = positive("sft_weight", sft_weight, or_zero=True)
        self.temperature = positive("temperature", temperature)

    def forward(self, batch: PreferenceForward) -> LossOutput:
        """Per-example ``(B,)`` loss; metrics: the ranking term, the NLL and the ranking accuracy."""
        pair_logps(batch, "pro")
        scores = torch.stack([batch.chosen.avg_logps, batch.rejected.avg_logps], dim=-1) / self.temperature
        ranking = -torch.log_softmax(scores, dim=-1)[:, 0]
        nll = -batch.chosen.avg_logps
        loss = ranking + self.sft_weight * nll
        detached = scores.detach()
        metrics = {
            "ranking_loss": ranking.detach().mean(),
            "nll_loss": nll.detach().mean(),
            "ranking_accuracy": (detached[:, 0] > detached[:, 1]).float().mean(),
        }
        return LossOutput(loss=loss, metrics=metrics)
