"""The preference step's policy side, from a head: the logits head (the unfused path: the model's full logits,
log-probs and PLOT dirac costs in one function) or the fused head (``PLOTModule(fused_head=True)``: policy
log-probs, PLOT dirac costs or the PLOT sinkhorn support, and the reference's log-probs (and top-K), without
any ``(N, T, V)`` logits).

Through the fused head the losses receive the same :class:`PreferenceForward` as from the unfused path
except that ``logits`` is None; PLOT reads the per-token dirac costs (``token_costs``) or the policy's
log-probs on the sinkhorn support (``support_logps``, ``support_ids``), and the ``logits/*`` metrics read
``logit_means``. Through the logits head the sides carry the logits and, on the rows PLOT's dirac term reads,
``token_costs``.

Memory (fused): ``O(chunk x V)`` inside the head (one chunk's logits at a time); what leaves it is per token,
``O(N x T x (3 + L))`` floats with ``L = 2K + 1`` support slots for sinkhorn (``O(N x T x K)`` for the
reference's top-K), never ``O(N x T x V)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from plot_lightning.forward import AlignedBatch, ReferenceOutputs, preference_forward
from plot_lightning.heads.exactness import check_fused_exact
from plot_lightning.heads.fused_head import DEFAULT_CHUNK, fused_head
from plot_lightning.heads.logits_head import logits_head
from plot_lightning.heads.routing import routed_head
from plot_lightning.losses.logprobs import DEFAULT_CHUNK as LOGITS_CHUNK
from plot_lightning.losses.types import PreferenceForward, SequenceSide

FUSED_PLOT_VARIANTS = ("dirac", "sinkhorn")


def check_fused_support(loss: nn.Module) -> None:
    """ValueError unless every term of ``loss`` (a CompositeLoss) works without full logits."""
    for name, term in loss.terms.items():
        if not getattr(term, "requires_logits", False):
            continue
        variant = getattr(term, "variant", None)
        if name == "plot" and variant in FUSED_PLOT_VARIANTS:
            continue
        if name == "plot":
            raise ValueError(
                f"fused_head supports PLOT variants {FUSED_PLOT_VARIANTS}, not {variant!r}: set fused_head false"
            )
        raise ValueError(f"fused_head: loss '{name}' needs the full (B, T, V) logits; set fused_head false")


def _call_routed(model: nn.Module, aligned: AlignedBatch, compute) -> Tensor:
    check_fused_exact(model, aligned.input_ids, aligned.attention_mask)  # the first call per model only
    with routed_head(model, compute):
        output = model(input_ids=aligned.input_ids, attention_mask=aligned.attention_mask, use_cache=False)
    return output.logits  # what ``compute`` returned, with the model's (FSDP) output hooks on it


def fused_reference_outputs(
    model: nn.Module, aligned: AlignedBatch, top_k: int = 0, chunk: int = DEFAULT_CHUNK
) -> ReferenceOutputs:
    """Summed fp32 log-probs ``(N,)`` of the targets under ``model`` and, if ``top_k > 0``, its per-token
    top-K ids / fp32 log-probs ``(N, T-1, K)`` on the masked tokens (ids 0 and log-probs ``-log K``
    elsewhere, as the reference cache fills them); no grad, no full logits."""
    side: dict[str, Tensor] = {}

    def compute(hidden: Tensor, head: nn.Linear) -> Tensor:
        rows = aligned.targets.shape[0]
        outputs = fused_head(
            hidden[:, :-1],
            head.weight,
            head.bias,
            aligned.targets,
            aligned.mask,
            support_rows=rows if top_k else 0,
            top_k=top_k,
            chunk=chunk,
        )
        if not top_k:
            return outputs.logps.unsqueeze(-1)  # (N, T-1, 1)
        side["ids"] = outputs.support_ids[..., :top_k]
        return torch.cat([outputs.logps.unsqueeze(-1), outputs.support_logps[..., :top_k]], dim=-1)

    with torch.no_grad():
        packed = _call_routed(model, aligned, compute)  # (N, T-1, 1 + K)
    logps = packed[..., 0].contiguous().sum(dim=-1)
    if not top_k:
        return ReferenceOutputs(logps=logps)
    topk_logps = packed[..., 1:].masked_fill(~aligned.mask.unsqueeze(-1), -math.log(top_k))
    return ReferenceOutputs(logps=logps, topk_ids=side["ids"], topk_logps=topk_logps)


def _plot_term(loss: nn.Module) -> nn.Module | None:
    plot = loss.terms["plot"] if "plot" in loss.terms else None
    if plot is not None and plot.unit_embedding is None:
        raise RuntimeError("PLOTLoss.set_embedding(weight) must be called before the first forward")
    return plot


def _dirac_rows(plot: nn.Module, pairs: int, rows: int) -> range:
    """The rows whose PLOT dirac cost the loss reads: dirac, the chosen rows (all rows with the rejected
    push); sinkhorn, the rejected rows only with the push (its term is dirac, see ``PLOTLoss``)."""
    if plot.variant == "dirac":
        return range(rows if plot.requires_rejected else pairs)
    return range(pairs, rows) if plot.requires_rejected else range(0)


def _plot_settings(loss: nn.Module, pairs: int, rows: int) -> dict:
    """Keyword arguments of ``fused_head`` for the composite's PLOT term (no PLOT: log-probs only): the dirac
    cost rows (:func:`_dirac_rows`) and, for sinkhorn, the support on the chosen rows."""
    plot = _plot_term(loss)
    if plot is None:
        return {}
    settings = {
        "unit_embedding": plot.unit_embedding,
        "cost": plot.cost,
        "cost_rows": _dirac_rows(plot, pairs, rows),
        "timer": plot.timer,
    }
    if plot.variant == "dirac":
        return settings
    return {**settings, "support_rows": pairs, "top_k": plot.reference_topk_k}


def logits_preference_forward(
    logits: Tensor,
    aligned: AlignedBatch,
    reference: ReferenceOutputs | None,
    loss: nn.Module,
    chunk: int = LOGITS_CHUNK,
) -> PreferenceForward:
    """The unfused step's losses' input from the policy's full ``logits (N, T, V)`` (``forward.model_logits``):
    log-probs and the PLOT dirac costs of the rows the loss reads in one function (``logits_head``), so
    that backward writes one logits gradient; the sides still carry the aligned logits for the losses that
    read them (sinkhorn, ORPO, ...)."""
    rows = aligned.input_ids.shape[0]
    pairs = rows // 2 if aligned.has_rejected else rows
    plot = _plot_term(loss)
    cost_rows = range(0) if plot is None else _dirac_rows(plot, pairs, rows)
    settings = (
        {}
        if not cost_rows
        else {"unit_embedding": plot.unit_embedding, "cost": plot.cost, "timer": plot.timer}
    )
    token_logps, token_costs = logits_head(
        logits, aligned.targets, aligned.mask, cost_rows=cost_rows, chunk=chunk, **settings
    )
    return preference_forward(
        logits[:, :-1],
        aligned,
        reference,
        logps=token_logps.sum(dim=-1),
        token_costs=token_costs,
        cost_rows=cost_rows,
    )


def _side(
    rows: slice, packed: Tensor, ids: Tensor | None, aligned, ref: ReferenceOutputs | None
) -> SequenceSide:
    logps, costs, means = packed[rows, :, :3].unbind(dim=-1)  # each (rows, T-1)
    has_support = ids is not None and rows.start == 0  # the support rows are the chosen ones
    return SequenceSide(
        labels=aligned.targets[rows],
        mask=aligned.mask[rows],
        # contiguous: a strided sum reduces in another order, and policy == reference must give DPO = ln 2
        logps=logps.contiguous().sum(dim=-1),
        ref_logps=None if ref is None else ref.logps[rows],
        ref_topk_ids=None if ref is None or ref.topk_ids is None else ref.topk_ids[rows],
        ref_topk_logps=None if ref is None or ref.topk_logps is None else ref.topk_logps[rows],
        token_costs=costs,
        logit_means=means,
        support_logps=packed[rows, :, 3:] if has_support else None,
        support_ids=ids[rows] if has_support else None,
    )


def fused_preference_forward(
    policy: nn.Module,
    aligned: AlignedBatch,
    reference: ReferenceOutputs | None,
    loss: nn.Module,
    chunk: int = DEFAULT_CHUNK,
) -> PreferenceForward:
    """One policy forward whose lm_head is the fused head; PLOT costs / support for the rows the loss needs."""
    rows = aligned.input_ids.shape[0]
    pairs = rows // 2 if aligned.has_rejected else rows
    settings = _plot_settings(loss, pairs, rows)
    if settings.get("support_rows"):
        if reference is None or reference.topk_ids is None:
            raise ValueError(
                "fused PLOT sinkhorn needs the reference's top-K ids (ReferenceOutputs.topk_ids)"
            )
        settings["extra_ids"] = reference.topk_ids
    side: dict[str, Tensor] = {}

    def compute(hidden: Tensor, head: nn.Linear) -> Tensor:
        outputs = fused_head(
            hidden[:, :-1], head.weight, head.bias, aligned.targets, aligned.mask, chunk=chunk, **settings
        )
        packed = torch.stack([outputs.logps, outputs.costs, outputs.mean_logits], dim=-1)  # (N, T-1, 3)
        if outputs.support_logps is None:
            return packed
        side["ids"] = outputs.support_ids  # long, not differentiable: beside the hooked output
        return torch.cat([packed, outputs.support_logps], dim=-1)  # (N, T-1, 3 + L)

    packed = _call_routed(policy, aligned, compute)
    ids = side.get("ids")
    if not aligned.has_rejected:
        return PreferenceForward(chosen=_side(slice(0, rows), packed, ids, aligned, reference))
    return PreferenceForward(
        chosen=_side(slice(0, pairs), packed, ids, aligned, reference),
        rejected=_side(slice(pairs, rows), packed, ids, aligned, reference),
    )
