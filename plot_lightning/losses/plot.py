"""PLOT loss: token-level optimal transport from the policy's next-token distributions to the preferred
tokens, with a ground cost from a frozen copy of the token embeddings (the README's "What PLOT is here")."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from plot_lightning.losses.plot_cost import (
    COST_KINDS,
    CostEmbedding,
    check_cost_embedding,
)
from plot_lightning.losses.plot_dirac import dirac_transport_cost
from plot_lightning.losses.plot_sinkhorn import (
    SINKHORN_DEFAULTS,
    PolicySupport,
    sinkhorn_transport_cost,
)
from plot_lightning.losses.precision import fp32_math
from plot_lightning.losses.registry import LOSSES
from plot_lightning.losses.term import LossTerm, TokenNeeds
from plot_lightning.losses.types import LossOutput, PreferenceForward, SequenceSide
from plot_lightning.tensor_checks import (
    as_bool_mask,
    check_choice,
    check_finite,
    check_labels_in_range,
    check_mask_nonempty,
    check_shape,
    check_unit_rows,
    positive,
)


def _mean_token_cost(token_costs: Tensor, mask: Tensor) -> Tensor:
    """``(B,)`` mean of the per-token costs ``(B, T)`` over ``mask (B, T)`` (see ``heads.fused_head``)."""
    check_shape("token_costs", token_costs, tuple(mask.shape))
    check_mask_nonempty("mask", mask)
    return (token_costs * mask).sum(dim=-1) / mask.sum(dim=-1).to(token_costs.dtype)


VARIANTS = ("dirac", "sinkhorn")


def _check_variant_and_cost(variant: str, cost: str) -> None:
    check_choice("variant", variant, VARIANTS)
    check_choice("cost", cost, COST_KINDS)


def _check_inputs(logits: Tensor, labels: Tensor, mask: Tensor, embedding: Tensor | CostEmbedding) -> Tensor:
    """Validate the inputs; return ``mask`` as bool."""
    check_shape("logits", logits, (None, None, None))
    if not logits.is_floating_point():
        raise ValueError(
            f"'logits' (shape {tuple(logits.shape)}, dtype {logits.dtype}) must be floating point"
        )
    batch, length, vocab = logits.shape
    check_shape("labels", labels, (batch, length))
    check_shape("mask", mask, (batch, length))
    check_cost_embedding("embedding", embedding, vocab)
    if not isinstance(embedding, CostEmbedding):  # a CostEmbedding reads unit rows by construction
        check_unit_rows("embedding", embedding)
    mask = as_bool_mask("mask", mask)
    check_mask_nonempty("mask", mask)
    check_labels_in_range("labels", labels, vocab, mask)
    return mask


@fp32_math
def plot_transport_cost(
    logits: Tensor,
    labels: Tensor,
    mask: Tensor,
    embedding: Tensor | CostEmbedding,
    *,
    variant: str = "dirac",
    cost: str = "cosine",
    ref_topk_ids: Tensor | None = None,
    ref_topk_logps: Tensor | None = None,
    top_k: int = SINKHORN_DEFAULTS.top_k,
    epsilon: float = SINKHORN_DEFAULTS.epsilon,
    max_iter: int = SINKHORN_DEFAULTS.max_iter,
    lam: float = SINKHORN_DEFAULTS.lam,
    debias: bool = SINKHORN_DEFAULTS.debias,
    chunk_size: int = 1024,
) -> Tensor:
    """Per-example mean transport cost over the response tokens, ``(B,)`` fp32 (fp64 for fp64 logits).

    Args:
        logits: ``(B, T, V)`` policy logits, any float dtype, aligned with ``labels``.
        labels: ``(B, T)`` long target ids, in ``[0, V)`` where ``mask`` is True.
        mask: ``(B, T)`` bool, or 0/1 integers (an attention mask), True/1 on response tokens; every row
            must select at least one.
        embedding: ``(V, d)`` unit-norm rows, e.g. ``plot_cost.normalise_embedding(model.lm_head.weight)``
            (a raw embedding is refused: its rows are not unit norm), fp32, no gradient needed.
        variant: ``"dirac"`` (exact, to ``δ_{y_t}``) or ``"sinkhorn"`` (to ``(1-lam) δ_y + lam topK(p_ref)``).
        cost: ``"cosine"`` (``1 - ê_u·ê_v``) or ``"l2"`` (``||ê_u - ê_v||``); both in ``[0, 2]``.
        ref_topk_ids, ref_topk_logps: ``(B, T, K)`` reference top-K ids and fp32 log-probs (sinkhorn only).
        top_k, epsilon, max_iter, lam, debias: sinkhorn settings (``epsilon`` as POT's ``reg``).
        chunk_size: positions per fp32 ``(chunk_size, V)`` block of the dirac kernel, besides the ``(N, V)``
            gradient rows (logits dtype, N = masked tokens) kept for backward.

    Raises:
        ValueError: naming the argument and its shape, for bad shapes, masks that are not bool or 0/1,
            empty response masks, embedding rows that are not unit norm, labels outside ``[0, V)``,
            NaN/inf logits, unknown ``variant`` or ``cost``.
    """
    _check_variant_and_cost(variant, cost)
    mask = _check_inputs(logits, labels, mask, embedding)
    if variant == "dirac":
        return dirac_transport_cost(logits, labels, mask, embedding, cost=cost, chunk_size=chunk_size)
    if ref_topk_ids is None or ref_topk_logps is None:
        raise ValueError(
            "variant 'sinkhorn' needs 'ref_topk_ids' and 'ref_topk_logps' (B,T,K) from the reference"
        )
    check_finite("logits", logits)  # a full pass: the dirac kernel checks the masked log-probs it computes
    options = dict(top_k=top_k, epsilon=epsilon, max_iter=max_iter, lam=lam, debias=debias, cost=cost)
    return sinkhorn_transport_cost(logits, labels, mask, embedding, ref_topk_ids, ref_topk_logps, **options)


@LOSSES.register("plot")
class PLOTLoss(LossTerm):
    """``L_PLOT = mean_t W(p_t^w, q_t^w) + gamma * max(0, margin - mean_t W(p_t^l, δ_{y^l_t}))`` per example.

    The first term is :func:`plot_transport_cost` on the chosen response (``variant`` picks the target
    ``q``); the optional second term pushes the policy away from the rejected tokens with the exact dirac
    cost. ``W`` lies in ``[0, 2]`` so the push is bounded: it contributes at most ``gamma * margin`` and
    stops once the rejected cost reaches ``margin``.

    Default ``margin=0.5``: with nearly orthogonal embeddings (cosine cost ~1 between unrelated tokens)
    ``W(p, δ_y) ~ 1 - p(y)``, so the hinge switches off once the rejected token holds less than about half of
    the mass. ``margin=1`` would almost never switch off (it needs mass on anti-aligned tokens), so the term
    would keep pushing probability off every rejected token, including those the chosen response shares.

    The ground cost reads ``PreferenceForward.cost_embedding``; per-token costs come from the head as declared
    in :attr:`needs`, else from the side's full logits through :func:`plot_transport_cost`.

    Args:
        variant: ``"dirac"`` (exact cost to the point mass on the chosen token) or ``"sinkhorn"`` (entropic
            OT to a target mixed with the reference's top-K).
        cost: ground cost between unit token embeddings, ``"cosine"`` or ``"l2"``.
        gamma: weight of the push away from the rejected tokens, >= 0 (0: chosen term only).
        margin: rejected-cost level at which the push stops, >= 0.
        top_k: size of the policy and reference top-K supports (sinkhorn).
        epsilon: entropic regularisation, as POT's ``reg`` (sinkhorn).
        max_iter: Sinkhorn iterations (sinkhorn).
        lam: weight of the reference top-K in the target ``(1-lam) delta_y + lam topK(p_ref)`` (sinkhorn).
        debias: use the debiased Sinkhorn divergence (sinkhorn).

    No chunking option: the heads chunk the cost themselves.
    """

    def __init__(
        self,
        variant: Literal["dirac", "sinkhorn"] = "dirac",
        cost: Literal["cosine", "l2"] = "cosine",
        gamma: float = 0.0,
        margin: float = 0.5,
        top_k: int = SINKHORN_DEFAULTS.top_k,
        epsilon: float = SINKHORN_DEFAULTS.epsilon,
        max_iter: int = SINKHORN_DEFAULTS.max_iter,
        lam: float = SINKHORN_DEFAULTS.lam,
        debias: bool = SINKHORN_DEFAULTS.debias,
    ) -> None:
        super().__init__()
        _check_variant_and_cost(variant, cost)
        self.variant, self.cost = variant, cost
        self.gamma, self.margin = (
            positive("gamma", gamma, or_zero=True),
            positive("margin", margin, or_zero=True),
        )
        self.options = dict(top_k=top_k, epsilon=epsilon, max_iter=max_iter, lam=lam, debias=debias)

    @property
    def needs(self) -> TokenNeeds:
        """Dirac costs on the chosen side (dirac) and, with the push, the rejected side; sinkhorn: the
        reference top-K and the policy's support of the same K."""
        sinkhorn = self.variant == "sinkhorn"
        top_k = int(self.options["top_k"]) if sinkhorn else 0
        sides = (() if sinkhorn else ("chosen",)) + (("rejected",) if self.gamma > 0 else ())
        return TokenNeeds(
            rejected=self.gamma > 0,
            reference_topk=top_k,
            cost=self.cost,
            cost_sides=sides,
            support_top_k=top_k,
        )

    def _cost(self, side: SequenceSide, variant: str, embedding) -> Tensor:
        """``(B,)`` mean cost of ``side``: from what the head computed, else from the side's full logits."""
        head = side.head
        if variant == "dirac" and head.token_costs is not None:
            return _mean_token_cost(head.token_costs, side.mask)
        if variant == "sinkhorn" and side.logits is None and head.support_logps is not None:
            if side.ref_topk_ids is None or side.ref_topk_logps is None:
                raise ValueError(
                    "variant 'sinkhorn' needs 'ref_topk_ids' and 'ref_topk_logps' from the reference"
                )
            return sinkhorn_transport_cost(
                PolicySupport(head.support_logps, head.support_ids),
                side.labels,
                as_bool_mask("mask", side.mask),
                embedding,
                side.ref_topk_ids,
                side.ref_topk_logps,
                cost=self.cost,
                **self.options,
            )
        if side.logits is None:
            raise ValueError(f"PLOTLoss ({variant}) needs policy logits: the batch side has logits=None")
        sinkhorn = variant == "sinkhorn"
        return plot_transport_cost(
            side.logits,
            side.labels,
            side.mask,
            embedding,
            variant=variant,
            cost=self.cost,
            ref_topk_ids=side.ref_topk_ids if sinkhorn else None,
            ref_topk_logps=side.ref_topk_logps if sinkhorn else None,
            **self.options,
        )

    def forward(self, batch: PreferenceForward) -> LossOutput:
        """``LossOutput(loss (B,), metrics {"chosen_cost", ["rejected_cost"]})``: batch means, detached."""
        embedding = batch.cost_embedding
        if embedding is None:
            raise ValueError("PLOTLoss needs the batch's 'cost_embedding' (PreferenceForward.cost_embedding)")
        chosen_cost = self._cost(batch.chosen, self.variant, embedding)
        metrics = {"chosen_cost": chosen_cost.detach().mean()}
        if self.gamma == 0:
            return LossOutput(loss=chosen_cost, metrics=metrics)
        if batch.rejected is None:
            raise ValueError("PLOTLoss with gamma > 0 needs the rejected side (batch.rejected is None)")
        rejected_cost = self._cost(batch.rejected, "dirac", embedding)
        metrics["rejected_cost"] = rejected_cost.detach().mean()
        push_away = torch.clamp(self.margin - rejected_cost, min=0.0)
        return LossOutput(loss=chosen_cost + self.gamma * push_away, metrics=metrics)
