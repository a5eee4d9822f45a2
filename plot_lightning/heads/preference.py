"""The preference step through the fused head (``PLOTModule(fused_head=True)``): policy log-probs and PLOT
dirac costs, and the reference's log-probs, without any ``(N, T, V)`` logits.

The losses receive the same :class:`PreferenceForward` as from the unfused path except that ``logits`` is
None; PLOT reads the per-token costs (``token_costs``) and the ``logits/*`` metrics read ``logit_means``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from plot_lightning.forward import AlignedBatch, ReferenceOutputs
from plot_lightning.heads.fused_head import DEFAULT_CHUNK, fused_head
from plot_lightning.heads.routing import routed_head
from plot_lightning.losses.types import PreferenceForward, SequenceSide


def check_fused_support(loss: nn.Module) -> None:
    """ValueError unless every term of ``loss`` (a CompositeLoss) works without full logits."""
    for name, term in loss.terms.items():
        if not getattr(term, "requires_logits", False):
            continue
        variant = getattr(term, "variant", None)
        if name == "plot" and variant == "dirac":
            continue
        if name == "plot":
            raise ValueError(
                f"fused_head does not support PLOT variant {variant!r} yet (its policy and reference top-K "
                "are not computed inside the head's chunks): use variant 'dirac' or set fused_head false"
            )
        raise ValueError(f"fused_head: loss '{name}' needs the full (B, T, V) logits; set fused_head false")


def _call_routed(model: nn.Module, aligned: AlignedBatch, compute) -> Tensor:
    with routed_head(model, compute):
        output = model(input_ids=aligned.input_ids, attention_mask=aligned.attention_mask, use_cache=False)
    return output.logits  # what ``compute`` returned, with the model's (FSDP) output hooks on it


def fused_reference_logps(model: nn.Module, aligned: AlignedBatch, chunk: int = DEFAULT_CHUNK) -> Tensor:
    """``(N,)`` fp32 summed log-probs of the targets under ``model``, no grad, no full logits."""

    def compute(hidden: Tensor, head: nn.Linear) -> Tensor:
        outputs = fused_head(
            hidden[:, :-1], head.weight, head.bias, aligned.targets, aligned.mask, chunk=chunk
        )
        return outputs.logps  # (N, T-1)

    with torch.no_grad():
        return _call_routed(model, aligned, compute).sum(dim=-1)


def _plot_settings(loss: nn.Module, pairs: int, rows: int) -> tuple[Tensor | None, int, str]:
    """``(unit_embedding, cost_rows, cost)`` of the composite's PLOT term (no PLOT: no cost rows)."""
    plot = loss.terms["plot"] if "plot" in loss.terms else None
    if plot is None:
        return None, 0, "cosine"
    if plot.unit_embedding is None:
        raise RuntimeError("PLOTLoss.set_embedding(weight) must be called before the first forward")
    return plot.unit_embedding, rows if plot.requires_rejected else pairs, plot.cost


def _side(rows: slice, packed: Tensor, aligned: AlignedBatch, ref: ReferenceOutputs | None) -> SequenceSide:
    logps, costs, means = packed[rows].unbind(dim=-1)  # each (rows, T-1)
    return SequenceSide(
        labels=aligned.targets[rows],
        mask=aligned.mask[rows],
        # contiguous: a strided sum reduces in another order, and policy == reference must give DPO = ln 2
        logps=logps.contiguous().sum(dim=-1),
        ref_logps=None if ref is None else ref.logps[rows],
        token_costs=costs,
        logit_means=means,
    )


def fused_preference_forward(
    policy: nn.Module,
    aligned: AlignedBatch,
    reference: ReferenceOutputs | None,
    loss: nn.Module,
    chunk: int = DEFAULT_CHUNK,
) -> PreferenceForward:
    """One policy forward whose lm_head is the fused head; PLOT costs for the rows the loss needs."""
    rows = aligned.input_ids.shape[0]
    pairs = rows // 2 if aligned.has_rejected else rows
    unit_embedding, cost_rows, cost = _plot_settings(loss, pairs, rows)

    def compute(hidden: Tensor, head: nn.Linear) -> Tensor:
        outputs = fused_head(
            hidden[:, :-1],
            head.weight,
            head.bias,
            aligned.targets,
            aligned.mask,
            unit_embedding=unit_embedding,
            cost_rows=cost_rows,
            cost=cost,
            chunk=chunk,
        )
        return torch.stack([outputs.logps, outputs.costs, outputs.mean_logits], dim=-1)  # (N, T-1, 3)

    packed = _call_routed(policy, aligned, compute)
    if not aligned.has_rejected:
        return PreferenceForward(chosen=_side(slice(0, rows), packed, aligned, reference))
    return PreferenceForward(
        chosen=_side(slice(0, pairs), packed, aligned, reference),
        rejected=_side(slice(pairs, rows), packed, aligned, reference),
    )
