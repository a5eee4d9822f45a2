"""From a collated batch to the aligned tensors the losses take (the README's "Token alignment").

A batch holds ``input_ids``, ``attention_mask`` and ``labels``, each ``(N, T)``, labels = input ids with -100
on prompt and padding (not shifted). For pair data ``N = 2B``: rows ``[0, B)`` chosen, ``[B, 2B)`` rejected.
The shift happens here, once: position ``t`` of the aligned tensors predicts token ``t + 1``::

    logits  = model(input_ids, attention_mask).logits[:, :-1]   # (N, T-1, V)
    targets = labels[:, 1:]                                     # (N, T-1)
    mask    = targets != -100                                   # (N, T-1) bool

Chosen and rejected go through the model in ONE forward (the concatenated batch).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from plot_lightning.losses.logprobs import sequence_logps, split_pairs
from plot_lightning.losses.types import PreferenceForward, SequenceSide, TokenOutputs
from plot_lightning.prefix_sharing import SharedPrefixLayout, packed_call, share_prefixes, use_shared

IGNORE_INDEX = -100


@dataclass
class AlignedBatch:
    """Model inputs plus shifted targets of a batch of ``N`` rows.

    Attributes:
        input_ids: ``(N, T)`` long.
        attention_mask: ``(N, T)`` long/bool.
        targets: ``(N, T-1)`` long in ``[0, V)`` (0 where ``mask`` is False).
        mask: ``(N, T-1)`` bool, True on response tokens.
        has_rejected: whether rows ``[N/2, N)`` are the rejected responses of rows ``[0, N/2)``.
        shared: where set, the models are called once per pair on packed rows (:mod:`prefix_sharing`); what
            every call returns is still laid out as these ``N`` rows.
    """

    input_ids: Tensor
    attention_mask: Tensor
    targets: Tensor
    mask: Tensor
    has_rejected: bool
    shared: SharedPrefixLayout | None = None


@dataclass
class ReferenceOutputs:
    """What the frozen reference contributes for ``N`` rows (live or read from the cache).

    Attributes:
        logps: ``(N,)`` fp32 summed reference log-probs of the targets over the mask.
        topk_ids: ``(N, T-1, K)`` long reference top-K token ids, or None when no loss needs them.
        topk_logps: ``(N, T-1, K)`` fp32 reference log-probs of ``topk_ids``, or None.
    """

    logps: Tensor
    topk_ids: Tensor | None = None
    topk_logps: Tensor | None = None


def align_batch(batch: Mapping[str, Tensor], prefix_sharing: bool | None = False) -> AlignedBatch:
    """Shift ``batch["labels"]`` once into aligned ``targets``/``mask``; check shapes and pairing.

    ``prefix_sharing``: False, calls the models on the ``N`` rows; None (where a model can) or True (raising
    where a model cannot), on the packed rows of :func:`prefix_sharing.share_prefixes` (pair batches only).
    """
    input_ids, attention_mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    if input_ids.dim() != 2 or input_ids.shape[1] < 2:
        raise ValueError(f"'input_ids' must be (N, T) with T >= 2, got shape {tuple(input_ids.shape)}")
    for name, tensor in (("attention_mask", attention_mask), ("labels", labels)):
        if tensor.shape != input_ids.shape:
            raise ValueError(
                f"'{name}' (shape {tuple(tensor.shape)}) must match 'input_ids' {tuple(input_ids.shape)}"
            )
    has_rejected = bool(batch.get("has_rejected", True))
    if has_rejected and input_ids.shape[0] % 2:
        raise ValueError(f"pair batch 'input_ids' (shape {tuple(input_ids.shape)}) needs an even N = 2B")
    targets = labels[:, 1:]
    mask = targets != IGNORE_INDEX
    shared = None
    if has_rejected and prefix_sharing is not False:
        shared = share_prefixes(input_ids, attention_mask, required=prefix_sharing is True)
    return AlignedBatch(input_ids, attention_mask, targets.masked_fill(~mask, 0), mask, has_rejected, shared)


def call_model(model: nn.Module, aligned: AlignedBatch, during=nullcontext):
    """``model``'s output for the ``N`` rows of ``aligned`` (its ``logits`` ``(N, T, V)``), the call made inside
    ``during()`` (e.g. a routed head): the one place a model is called on a batch, packed where
    ``aligned.shared`` says and the model can take it (asked before ``during``)."""
    layout = aligned.shared
    if layout is not None and not use_shared(model, layout, aligned.input_ids, aligned.attention_mask):
        layout = None
    with during():
        if layout is not None:
            return packed_call(model, layout)
        return model(input_ids=aligned.input_ids, attention_mask=aligned.attention_mask, use_cache=False)


def model_logits(model: nn.Module, aligned: AlignedBatch) -> Tensor:
    """``(N, T, V)`` logits of ``model`` at every position (one forward over all rows), in the model's dtype,
    not shifted: position ``t < T-1`` predicts ``aligned.targets[:, t]``."""
    return call_model(model, aligned).logits


def causal_logits(model: nn.Module, aligned: AlignedBatch) -> Tensor:
    """``(N, T-1, V)`` next-token logits of ``model`` (one forward over all rows), in the model's dtype."""
    return model_logits(model, aligned)[:, :-1]


def _rows(tensor: Tensor | None, rows: slice) -> Tensor | None:
    return None if tensor is None else tensor[rows]


def _side(
    rows: slice,
    logits: Tensor,
    aligned: AlignedBatch,
    logps: Tensor,
    ref: ReferenceOutputs | None,
    token_costs: Tensor | None,
):
    ref = ref if ref is not None else ReferenceOutputs(logps=None)  # type: ignore[arg-type]
    return SequenceSide(
        labels=aligned.targets[rows],
        mask=aligned.mask[rows],
        logps=logps[rows],
        logits=logits[rows],
        ref_logps=_rows(ref.logps, rows),
        ref_topk_ids=_rows(ref.topk_ids, rows),
        ref_topk_logps=_rows(ref.topk_logps, rows),
        sequence_labels=aligned.input_ids[rows, 1:],
        sequence_mask=aligned.attention_mask[rows, 1:].bool(),
        head=TokenOutputs(token_costs=_rows(token_costs, rows)),
    )


def preference_forward(
    logits: Tensor,
    aligned: AlignedBatch,
    reference: ReferenceOutputs | None = None,
    *,
    logps: Tensor | None = None,
    token_costs: Tensor | None = None,
    cost_rows: range = range(0),
    cost_embedding: Tensor | None = None,
) -> PreferenceForward:
    """Build the losses' input from the policy's aligned ``logits (N, T-1, V)`` and the reference outputs.

    Policy log-probs are computed once over all ``N`` rows in fp32 and split into chosen/rejected halves,
    unless given: ``logps (N,)`` summed log-probs, and ``token_costs (N, T-1)`` PLOT dirac costs of the rows
    ``cost_rows`` (both from ``heads.logits_head``), which the sides in ``cost_rows`` then carry
    (``SequenceSide.head``); the batch carries ``cost_embedding (V, d)``, the frozen cost embedding.
    """
    if logps is None:
        logps = sequence_logps(logits, aligned.targets, aligned.mask)  # (N,) fp32
    rows = logits.shape[0]

    def side(part: slice) -> SequenceSide:
        costs = token_costs if cost_rows.start <= part.start and part.stop <= cost_rows.stop else None
        return _side(part, logits, aligned, logps, reference, costs)

    if not aligned.has_rejected:
        return PreferenceForward(chosen=side(slice(0, rows)), cost_embedding=cost_embedding)
    split_pairs(logps)  # validates the even split
    half = rows // 2
    return PreferenceForward(side(slice(0, half)), side(slice(half, rows)), cost_embedding)


@torch.no_grad()
def reference_outputs_from_logits(logits: Tensor, aligned: AlignedBatch, top_k: int = 0) -> ReferenceOutputs:
    """Summed fp32 log-probs (and, if ``top_k > 0``, per-token top-K ids/log-probs) of reference logits."""
    logps = sequence_logps(logits, aligned.targets, aligned.mask).float()
    if top_k <= 0:
        return ReferenceOutputs(logps=logps)
    from plot_lightning.losses.plot_sinkhorn import reference_topk

    topk_ids, topk_logps = reference_topk(logits, top_k)
    return ReferenceOutputs(logps=logps, topk_ids=topk_ids, topk_logps=topk_logps.float())


def select_examples(forward: PreferenceForward, keep: Tensor) -> PreferenceForward:
    """The examples where ``keep (B,)`` bool is True, on both sides (e.g. one subpreference)."""

    def side(s: SequenceSide | None) -> SequenceSide | None:
        if s is None:
            return None
        tensors = {name: value for name, value in vars(s).items() if name != "head"}
        pick = {name: (None if value is None else value[keep]) for name, value in tensors.items()}
        head = {name: (None if value is None else value[keep]) for name, value in vars(s.head).items()}
        return SequenceSide(**pick, head=TokenOutputs(**head))

    return PreferenceForward(side(forward.chosen), side(forward.rejected), forward.cost_embedding)
