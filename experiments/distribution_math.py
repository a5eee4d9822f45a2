"""Per-token distribution statistics of a policy against its reference (imports only torch; fp32).

All functions take aligned logits ``(N, T, V)`` (position ``t`` predicts ``targets[:, t]``), ``targets (N, T)``
long and ``mask (N, T)`` bool, and return per-row sums ``(N,)`` over the masked positions, so callers pool
them over rows and divide by the token count (:func:`masked_count`).
"""

from __future__ import annotations

import torch
from torch import Tensor


def _check(logits: Tensor, mask: Tensor) -> None:
    if logits.dim() != 3 or mask.shape != logits.shape[:2]:
        raise ValueError(
            f"need logits (N, T, V) and mask (N, T); got {tuple(logits.shape)}, {tuple(mask.shape)}"
        )


def masked_count(mask: Tensor) -> Tensor:
    """``(N,)`` number of masked-in positions per row (float)."""
    return mask.float().sum(-1)


def token_kl_sum(policy_logits: Tensor, reference_logits: Tensor, mask: Tensor) -> Tensor:
    """``(N,)`` sum over masked positions of ``KL(p_t || q_t) = sum_v p_t(v) (log p_t(v) - log q_t(v))``.

    Exact over the whole vocabulary, fp32; p is the policy, q the reference.
    """
    _check(policy_logits, mask)
    if reference_logits.shape != policy_logits.shape:
        raise ValueError(
            f"reference logits {tuple(reference_logits.shape)} != policy {tuple(policy_logits.shape)}"
        )
    log_p = torch.log_softmax(policy_logits.float(), dim=-1)
    log_q = torch.log_softmax(reference_logits.float(), dim=-1)
    kl = (log_p.exp() * (log_p - log_q)).sum(-1)  # (N, T)
    return (kl * mask).sum(-1)


def token_entropy_sum(logits: Tensor, mask: Tensor) -> Tensor:
    """``(N,)`` sum over masked positions of the next-token entropy ``-sum_v p log p`` (nats), fp32."""
    _check(logits, mask)
    log_p = torch.log_softmax(logits.float(), dim=-1)
    entropy = -(log_p.exp() * log_p).sum(-1)
    return (entropy * mask).sum(-1)


def target_nll_sum(logits: Tensor, targets: Tensor, mask: Tensor) -> Tensor:
    """``(N,)`` sum over masked positions of ``-log p_t(targets_t)`` (nats), fp32."""
    _check(logits, mask)
    log_p = torch.log_softmax(logits.float(), dim=-1)
    nll = -log_p.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return (nll * mask).sum(-1)


def cosine_cost_to(embedding: Tensor, target_ids: Tensor) -> Tensor:
    """``(P, V)`` cost ``1 - cos(e_v, e_y)`` of every token v to each target y; ``embedding (V, d)``, ids ``(P,)``.

    The same ground cost as PLOT's ``cost: cosine`` (rows L2-normalised, fp32).
    """
    unit = torch.nn.functional.normalize(embedding.float(), dim=-1)
    return 1.0 - unit[target_ids] @ unit.T
