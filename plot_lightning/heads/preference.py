"""The preference step's policy side, from a head: the logits head (the unfused path: the model's full logits,
log-probs and PLOT dirac costs in one function) or the fused head (``PLOTModule(fused_head=True)``: policy
log-probs, PLOT dirac costs or the PLOT sinkhorn support, and the reference's log-probs (and top-K), without
any ``(N, T, V)`` logits).

Both compute what the loss terms declare (the union of their ``TokenNeeds``, whatever their registered
names), against the cost embedding the caller (the module) owns. Through the fused head the losses receive
the same :class:`PreferenceForward` as from the unfused path except that ``logits`` is None; the per-token
dirac costs and the policy's log-probs on the declared support go in ``SequenceSide.head``, and the
``logits/*`` metrics read ``logit_means``. Through the logits head the sides carry the logits and, on the
declared sides, ``head.token_costs``.

Memory (fused): ``O(chunk x V)`` inside the head (one chunk's logits at a time); what leaves it is per token,
``O(N x T x (3 + L))`` floats with ``L = 2K + 1`` support slots for sinkhorn (``O(N x T x K)`` for the
reference's top-K), never ``O(N x T x V)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from plot_lightning.forward import AlignedBatch, ReferenceOutputs, call_model, preference_forward
from plot_lightning.heads.exactness import check_fused_exact
from plot_lightning.heads.fused_head import DEFAULT_CHUNK, fused_head
from plot_lightning.heads.logits_head import logits_head
from plot_lightning.heads.routing import routed_head
from plot_lightning.losses.logprobs import DEFAULT_CHUNK as LOGITS_CHUNK
from plot_lightning.losses.plot_cost import CostEmbedding
from plot_lightning.losses.term import TokenNeeds
from plot_lightning.losses.types import PreferenceForward, SequenceSide, TokenOutputs


def fused_mode(loss: nn.Module, fused_head: bool | None) -> bool | None:
    """``fused_head`` as a step runs it, for ``loss`` (a CompositeLoss): True (the fused head; ValueError when
    a term needs the full logits), None (the fused head wherever a model is exact for it, see
    :func:`plot_lightning.heads.exactness.use_fused`; False when a term needs the full logits) or False."""
    needs = [name for name, term in loss.terms.items() if term.needs.logits]
    if needs and fused_head:
        raise ValueError(
            f"fused_head: loss '{needs[0]}' needs the full (B, T, V) logits; set fused_head false"
        )
    return False if needs else fused_head


def _call_routed(model: nn.Module, aligned: AlignedBatch, compute) -> Tensor:
    check_fused_exact(model, aligned.input_ids, aligned.attention_mask)  # the first call per model only
    # what ``compute`` returned, with the model's (FSDP) output hooks on it
    return call_model(model, aligned, lambda: routed_head(model, compute)).logits


def _fused_pass(model: nn.Module, aligned: AlignedBatch, chunk: int, pack, **settings) -> Tensor:
    """One forward of ``model`` whose lm_head runs :func:`fused_head` (with ``settings``) on the final hidden
    states; ``pack(outputs) -> Tensor`` makes the hooked output from the head's outputs."""

    def compute(hidden: Tensor, head: nn.Linear) -> Tensor:
        targets, mask = aligned.targets, aligned.mask
        return pack(
            fused_head(hidden[:, :-1], head.weight, head.bias, targets, mask, chunk=chunk, **settings)
        )

    return _call_routed(model, aligned, compute)


def fused_reference_outputs(
    model: nn.Module, aligned: AlignedBatch, top_k: int = 0, chunk: int = DEFAULT_CHUNK
) -> ReferenceOutputs:
    """Summed fp32 log-probs ``(N,)`` of the targets under ``model`` and, if ``top_k > 0``, its per-token
    top-K ids / fp32 log-probs ``(N, T-1, K)`` on the masked tokens (ids 0 and log-probs ``-log K``
    elsewhere, as the reference cache fills them); no grad, no full logits."""
    side: dict[str, Tensor] = {}

    def pack(outputs) -> Tensor:
        if not top_k:
            return outputs.logps.unsqueeze(-1)  # (N, T-1, 1)
        side["ids"] = outputs.support_ids[..., :top_k]
        return torch.cat([outputs.logps.unsqueeze(-1), outputs.support_logps[..., :top_k]], dim=-1)

    support_rows = aligned.targets.shape[0] if top_k else 0
    with torch.no_grad():
        packed = _fused_pass(
            model, aligned, chunk, pack, support_rows=support_rows, top_k=top_k
        )  # (N, T-1, 1+K)
    logps = packed[..., 0].contiguous().sum(dim=-1)
    if not top_k:
        return ReferenceOutputs(logps=logps)
    topk_logps = packed[..., 1:].masked_fill(~aligned.mask.unsqueeze(-1), -math.log(top_k))
    return ReferenceOutputs(logps=logps, topk_ids=side["ids"], topk_logps=topk_logps)


def _row_plan(aligned: AlignedBatch, needs: TokenNeeds, embedding) -> tuple[int, int, range]:
    """``(rows, pairs, cost_rows)``: the batch's rows, its chosen rows ``[0, pairs)`` (all rows without pair
    data), and the rows whose dirac cost the terms read (``TokenNeeds.cost_sides``): chosen ``[0, pairs)``,
    rejected ``[pairs, rows)`` (empty without pair data), both ``[0, rows)``."""
    rows = aligned.input_ids.shape[0]
    pairs = rows // 2 if aligned.has_rejected else rows
    if not needs.cost_sides:
        return rows, pairs, range(0)
    if embedding is None:
        raise ValueError("the loss declares a ground cost: pass the module's 'cost_embedding' (V, d)")
    start = 0 if "chosen" in needs.cost_sides else pairs
    return rows, pairs, range(start, rows if "rejected" in needs.cost_sides else pairs)


def _side(
    rows: slice, packed: Tensor, ids: Tensor | None, aligned, ref: ReferenceOutputs | None, cost_rows: range
) -> SequenceSide:
    logps, costs, means = packed[rows, :, :3].unbind(dim=-1)  # each (rows, T-1)
    has_costs = cost_rows.start <= rows.start and rows.stop <= cost_rows.stop  # a side is in or out whole
    has_support = ids is not None and rows.start == 0  # the support rows are the chosen ones
    return SequenceSide(
        labels=aligned.targets[rows],
        mask=aligned.mask[rows],
        # contiguous: a strided sum reduces in another order, and policy == reference must give DPO = ln 2
        logps=logps.contiguous().sum(dim=-1),
        ref_logps=None if ref is None else ref.logps[rows],
        ref_topk_ids=None if ref is None or ref.topk_ids is None else ref.topk_ids[rows],
        ref_topk_logps=None if ref is None or ref.topk_logps is None else ref.topk_logps[rows],
        logit_means=means,
        head=TokenOutputs(
            token_costs=costs if has_costs else None,
            support_logps=packed[rows, :, 3:] if has_support else None,
            support_ids=ids[rows] if has_support else None,
        ),
    )


def policy_preference_forward(
    policy_or_logits: nn.Module | Tensor,
    aligned: AlignedBatch,
    reference: ReferenceOutputs | None,
    needs: TokenNeeds,
    cost_embedding: Tensor | CostEmbedding | None = None,
    chunk: int | None = None,
) -> PreferenceForward:
    """The losses' input for the policy side of a step: the log-probs, and the dirac costs and support
    ``needs`` declares (against ``cost_embedding``), from

    - the policy model: one forward whose lm_head is the fused head (``chunk`` tokens per block, default
      ``DEFAULT_CHUNK``), no ``(N, T, V)`` logits;
    - or its full ``logits (N, T, V)`` (``forward.model_logits``): log-probs and costs in one function
      (``logits_head``, ``chunk`` positions per fp32 block), so that backward writes one logits gradient; the
      sides still carry the aligned logits for the losses that read them (sinkhorn, ORPO, ...).
    """
    rows, pairs, cost_rows = _row_plan(aligned, needs, cost_embedding)
    if isinstance(policy_or_logits, Tensor):
        logits = policy_or_logits
        settings = {"unit_embedding": cost_embedding, "cost": needs.cost} if cost_rows else {}
        token_logps, token_costs = logits_head(
            logits,
            aligned.targets,
            aligned.mask,
            cost_rows=cost_rows,
            chunk=LOGITS_CHUNK if chunk is None else chunk,
            **settings,
        )
        return preference_forward(
            logits[:, :-1],
            aligned,
            reference,
            logps=token_logps.sum(dim=-1),
            token_costs=token_costs,
            cost_rows=cost_rows,
            cost_embedding=cost_embedding,
        )
    settings = {"unit_embedding": cost_embedding, "cost": needs.cost or "cosine", "cost_rows": cost_rows}
    if needs.support_top_k:
        if reference is None or reference.topk_ids is None:
            raise ValueError(
                "the policy's support needs the reference's top-K ids (ReferenceOutputs.topk_ids)"
            )
        settings.update(support_rows=pairs, top_k=needs.support_top_k, extra_ids=reference.topk_ids)
    side: dict[str, Tensor] = {}

    def pack(outputs) -> Tensor:
        packed = torch.stack([outputs.logps, outputs.costs, outputs.mean_logits], dim=-1)  # (N, T-1, 3)
        if outputs.support_logps is None:
            return packed
        side["ids"] = outputs.support_ids  # long, not differentiable: beside the hooked output
        return torch.cat([packed, outputs.support_logps], dim=-1)  # (N, T-1, 3 + L)

    packed = _fused_pass(
        policy_or_logits, aligned, DEFAULT_CHUNK if chunk is None else chunk, pack, **settings
    )
    ids = side.get("ids")
    if not aligned.has_rejected:
        chosen = _side(slice(0, rows), packed, ids, aligned, reference, cost_rows)
        return PreferenceForward(chosen, None, cost_embedding)
    return PreferenceForward(
        _side(slice(0, pairs), packed, ids, aligned, reference, cost_rows),
        _side(slice(pairs, rows), packed, ids, aligned, reference, cost_rows),
        cost_embedding,
    )
