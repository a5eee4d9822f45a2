"""Containers passed from the training step to the losses.

Every tensor is *aligned*: position ``t`` of ``logits`` predicts ``labels[:, t]`` and counts only where
``mask`` is True (response tokens). See the README section "Token alignment".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass
class SequenceSide:
    """One side (chosen or rejected) of a batch of ``B`` examples.

    Attributes:
        labels: ``(B, T)`` long, next-token targets aligned with ``logits`` (any value where masked).
        mask: ``(B, T)`` bool, True on response tokens that count.
        logps: ``(B,)`` fp32, summed policy log-probabilities of ``labels`` over ``mask``.
        logits: ``(B, T, V)`` policy logits (any dtype); only needed by losses with ``requires_logits``.
        ref_logps: ``(B,)`` fp32 summed reference log-probabilities; needed by reference-based losses.
        ref_topk_ids: ``(B, T, K)`` long, the reference model's top-K token ids (PLOT ``sinkhorn``).
        ref_topk_logps: ``(B, T, K)`` fp32 reference log-probabilities of ``ref_topk_ids``.
        token_costs: ``(B, T)`` fp32 PLOT dirac costs per token (0 off the mask), from the fused head
            (``fused_head=True``), which gives no ``logits``.
        logit_means: ``(B, T)`` fp32 mean logit over the vocabulary per token, detached (fused head).
        support_logps: ``(B, T, 2K+1)`` fp32 policy log-probs on the PLOT sinkhorn support slots
            (``plot_sinkhorn.support_slots``), from the fused head (differentiable).
        support_ids: ``(B, T, 2K+1)`` long ids of those slots (fused head).
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
    token_costs: Tensor | None = None
    logit_means: Tensor | None = None
    support_logps: Tensor | None = None
    support_ids: Tensor | None = None

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
    """What one training step computed for a batch: the chosen side and, for pair data, the rejected."""

    chosen: SequenceSide
    rejected: SequenceSide | None = None


@dataclass
class LossOutput:
    """A loss term's result.

    Attributes:
        loss: ``(B,)`` per-example loss; the caller takes the batch mean.
        metrics: extra detached scalars to log (e.g. ``{"rewards/chosen": ...}``); may be empty.
    """

    loss: Tensor
    metrics: dict[str, Tensor] = field(default_factory=dict)
