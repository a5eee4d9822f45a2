"""Containers passed from the training step to the losses.

Every tensor is *aligned*: position ``t`` of ``logits`` predicts ``labels[:, t]`` and counts only where
``mask`` is True (response tokens). See the README section "Token alignment".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor


@dataclass
class TokenOutputs:
    """Per-token values a head computed because a term declared them (``TokenNeeds``); 0 off the mask.

    Attributes:
        token_costs: ``(B, T)`` fp32 dirac transport costs ``W_t`` against the cost embedding (differentiable),
            on the sides in ``TokenNeeds.cost_sides``; None on the other sides.
        support_logps: ``(B, T, L)`` fp32 policy log-probs on the support slots ``support_ids``
            (differentiable); chosen side only, fused head only, when ``TokenNeeds.support_top_k > 0``.
        support_ids: ``(B, T, L)`` long ``[policy top-K, reference top-K, target]`` ids of those slots.
    """

    token_costs: Tensor | None = None
    support_logps: Tensor | None = None
    support_ids: Tensor | None = None


@dataclass
class SequenceSide:
    """One side (chosen or rejected) of a batch of ``B`` examples.

    Attributes:
        labels: ``(B, T)`` long, next-token targets aligned with ``logits`` (any value where masked).
        mask: ``(B, T)`` bool, True on response tokens that count.
        logps: ``(B,)`` fp32, summed policy log-probabilities of ``labels`` over ``mask``.
        logits: ``(B, T, V)`` policy logits (any dtype); None through the fused head (``TokenNeeds.logits``).
        ref_logps: ``(B,)`` fp32 summed reference log-probabilities (``TokenNeeds.reference``).
        ref_topk_ids: ``(B, T, K)`` long, the reference model's top-K token ids (``TokenNeeds.reference_topk``).
        ref_topk_logps: ``(B, T, K)`` fp32 reference log-probabilities of ``ref_topk_ids``.
        sequence_labels: ``(B, T)`` long, every next token (prompt and response, not masked), for a loss
            over the whole sequence (ORPO's prompt-and-response NLL); with the logits only.
        sequence_mask: ``(B, T)`` bool, True on the real (not padding) tokens of ``sequence_labels``.
        logit_means: ``(B, T)`` fp32 mean logit over the vocabulary per token, detached (fused head; the
            unfused metrics read ``logits``).
        head: what the head computed for the declared token needs (:class:`TokenOutputs`).
    """

    labels: Tensor
    mask: Tensor
    logps: Tensor
    logits: Tensor | None = None
    ref_logps: Tensor | None = None
    ref_topk_ids: Tensor | None = None
    ref_topk_logps: Tensor | None = None
    sequence_labels: Tensor | None = None
    sequence_mask: Tensor | None = None
    logit_means: Tensor | None = None
    head: TokenOutputs = field(default_factory=TokenOutputs)

    @property
    def lengths(self) -> Tensor:
        """``(B,)`` fp32 number of response tokens per example."""
        return self.mask.sum(dim=-1).to(torch.float32)

    @property
    def avg_logps(self) -> Tensor:
        """``(B,)`` fp32 length-normalised log-probabilities ``logps / lengths``."""
        return self.logps / self.lengths.clamp(min=1.0)


@dataclass
class PreferenceForward:
    """What one training step computed for a batch: the chosen side and, for pair data, the rejected.

    ``cost_embedding``: the module's frozen ``(V, d)`` cost embedding (unit rows, a tensor or a
    ``plot_cost.CostEmbedding``) when a term declares a ground cost (``TokenNeeds.cost``); else None.
    """

    chosen: SequenceSide
    rejected: SequenceSide | None = None
    cost_embedding: Any = None


@dataclass
class LossOutput:
    """A loss term's result: ``loss (B,)`` per example (the caller takes the batch mean) and extra detached
    scalars to log, e.g. ``{"rewards/chosen": ...}``."""

    loss: Tensor
    metrics: dict[str, Tensor] = field(default_factory=dict)
