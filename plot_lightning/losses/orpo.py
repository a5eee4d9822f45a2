"""ORPO: odds-ratio preference optimisation (Hong et al., 2024, arXiv 2403.07691, eqs. 2-7), as TRL's
``ORPOTrainer``: ``loss = NLL - beta * mean log sigmoid(log odds(y_w) - log odds(y_l))``."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from plot_lightning.tensor_checks import check_choice, positive

from .logprobs import pair_logps, token_logps
from .registry import LOSSES
from .term import LossTerm, TokenNeeds
from .types import LossOutput, PreferenceForward, SequenceSide

NLL_SPANS = ("prompt_and_response", "response")


def log_odds(avg_logps: Tensor) -> Tensor:
    """``log(P / (1 - P))`` for ``P = exp(avg_logps)``, ``avg_logps (B,) <= 0`` (stable).

    ``log(1 - P)`` is ``log(-expm1(x))`` near ``x = 0`` and ``log1p(-exp(x))`` below ``-ln 2`` (Maechler,
    "Accurately computing log(1 - exp(-|a|))"). ``x`` is capped at ``-eps`` of its dtype so a response the
    model is certain of (``P = 1``) gives a large finite log-odds rather than inf (zero gradient there).
    """
    capped = avg_logps.clamp(max=-torch.finfo(avg_logps.dtype).eps)
    near_zero = capped > -0.6931471805599453
    log_one_minus = torch.where(
        near_zero,
        torch.log(-torch.expm1(capped.clamp(min=-0.6931471805599453))),
        torch.log1p(-torch.exp(capped.clamp(max=-0.6931471805599453))),
    )
    return capped - log_one_minus


def sequence_nll(side: SequenceSide) -> Tensor:
    """``(B,)`` NLL over every non-padding token (prompt and response), reduced per token over the batch.

    Entry ``i`` is ``-B * sum_t log p(x_i,t) / sum_i |x_i|``: the batch mean is the token mean, as TRL's
    ``CrossEntropyLoss`` over the chosen rows.
    """
    if side.logits is None or side.sequence_labels is None or side.sequence_mask is None:
        raise ValueError(
            "loss 'orpo' with nll='prompt_and_response' needs the chosen logits, sequence_labels and "
            "sequence_mask (prompt and response tokens)"
        )
    per_token = token_logps(side.logits, side.sequence_labels, side.sequence_mask.bool())
    tokens = side.sequence_mask.sum().to(per_token.dtype).clamp(min=1.0)
    return -per_token.sum(dim=-1) * (per_token.shape[0] / tokens)


@LOSSES.register("orpo")
class ORPOLoss(LossTerm):
    """``loss = NLL(y_w) - beta * log sigmoid(log odds(y_w) - log odds(y_l))``; reference-free.

    The odds use ``P(y|x) = exp(mean token log-prob of the response)`` as in the paper and TRL.
    ``nll="prompt_and_response"`` (default, TRL's): the NLL of the chosen rows covers the prompt and the
    response, one mean over all their tokens in the batch (needs the logits).
    ``nll="response"``: the mean NLL per response token of each example, then the batch mean.

    Args:
        beta: weight ``lambda`` of the odds-ratio term, >= 0 (TRL's ``beta``; the paper uses 0.1-0.25).
        nll: the tokens the NLL term covers, ``"prompt_and_response"`` (TRL's) or ``"response"``.
    """

    def __init__(
        self, beta: float = 0.1, nll: Literal["prompt_and_response", "response"] = "prompt_and_response"
    ) -> None:
        super().__init__()
        check_choice("nll", nll, NLL_SPANS)
        self.beta = positive("beta", beta, or_zero=True)
        self.nll = nll

    @property
    def needs(self) -> TokenNeeds:
        """The pair; the prompt-and-response NLL is computed from the logits."""
        return TokenNeeds(rejected=True, logits=self.nll == "prompt_and_response")

    def forward(self, batch: PreferenceForward) -> LossOutput:
        """Per-example ``(B,)`` loss; metrics: the NLL, the log-odds ratio and the odds-ratio accuracy."""
        pair_logps(batch, "orpo")
        chosen_avg, rejected_avg = batch.chosen.avg_logps, batch.rejected.avg_logps
        log_odds_ratio = log_odds(chosen_avg) - log_odds(rejected_avg)
        nll = sequence_nll(batch.chosen) if self.nll == "prompt_and_response" else -chosen_avg
        loss = nll - self.beta * F.logsigmoid(log_odds_ratio)
        detached = log_odds_ratio.detach()
        metrics = {
            "nll_loss": nll.detach().mean(),
            "log_odds_ratio": detached.mean(),
            "log_odds_accuracy": (detached > 0).float().mean(),
        }
        return LossOutput(loss=loss, metrics=metrics)
