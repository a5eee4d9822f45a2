"""Detached batch metrics under TRL's names, so runs can be compared with TRL's DPOTrainer logs.

Conventions (TRL): the implicit reward of a response is ``beta * (log pi(y|x) - log ref(y|x))`` with
summed log-probs; ``logits/*`` is the mean policy logit over the response tokens and the vocabulary.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .precision import compute_dtype
from .types import PreferenceForward, SequenceSide


def reward_metrics(chosen_rewards: Tensor, rejected_rewards: Tensor) -> dict[str, Tensor]:
    """Batch means of ``(B,)`` chosen / rejected rewards, their margin and the pairwise accuracy.

    Returns detached scalars ``rewards/chosen``, ``rewards/rejected``, ``rewards/accuracies`` (fraction of
    pairs with chosen reward strictly above rejected) and ``rewards/margins``.
    """
    chosen_rewards, rejected_rewards = chosen_rewards.detach(), rejected_rewards.detach()
    return {
        "rewards/chosen": chosen_rewards.mean(),
        "rewards/rejected": rejected_rewards.mean(),
        "rewards/accuracies": (chosen_rewards > rejected_rewards).float().mean(),
        "rewards/margins": (chosen_rewards - rejected_rewards).mean(),
    }


def _mean_response_logit(side: SequenceSide) -> Tensor:
    """Mean of the policy logits over the masked response positions and the whole vocabulary."""
    mask = side.mask.to(torch.float32)
    if side.logits is None:  # fused head: the per-position means it computed from the hidden states
        per_position = side.logit_means.detach()
    else:
        logits = side.logits.detach()
        dtype = compute_dtype(logits)
        per_position = logits.mean(dim=-1, dtype=dtype)  # accumulates in fp32 without an fp32 copy
    return (per_position * mask).sum() / mask.sum().clamp(min=1.0)


def preference_metrics(batch: PreferenceForward, beta: float) -> dict[str, Tensor]:
    """TRL-named, detached batch means of what ``batch`` makes available: ``logps/*``; ``logits/*`` with logits
    (or the fused head's logit means); ``rewards/*`` (scaled by ``beta``) with ``ref_logps`` on both sides."""
    metrics: dict[str, Tensor] = {}
    sides = {"chosen": batch.chosen, "rejected": batch.rejected}
    for name, side in sides.items():
        if side is None:
            continue
        metrics[f"logps/{name}"] = side.logps.detach().mean()
        if side.logits is not None or side.logit_means is not None:
            metrics[f"logits/{name}"] = _mean_response_logit(side)
    rejected = batch.rejected
    if rejected is not None and batch.chosen.ref_logps is not None and rejected.ref_logps is not None:
        chosen_rewards = beta * (batch.chosen.logps - batch.chosen.ref_logps)
        rejected_rewards = beta * (rejected.logps - rejected.ref_logps)
        metrics.update(reward_metrics(chosen_rewards, rejected_rewards))
    return metrics
