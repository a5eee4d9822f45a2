r"""Attention over prefix-shared packed rows as causal blocks, instead of one masked ``L x L`` square.

A packed row holds segments ``prefix + chosen suffix + rejected suffix`` (:mod:`prefix_sharing`). Under its
mask a query reads: in ``prefix + chosen``, the keys before it (plain causal attention over that span); in the
rejected suffix, the prefix and the rejected keys before it (causal attention of the rejected queries over
``prefix + rejected``, aligned at the bottom right). So each segment is two attention calls whose keys are
exactly the allowed ones::

    masked square (what the mask asks of sdpa)     two blocks (this module)
    q\k  P C R                                       [P C] causal          [R] over [P R], causal
     P   c . .                                       cost (P+C)^2 / 2      cost R (P + R/2)
     C   x c .
     R   x . c

The masked call computes every ``q x k`` product of the row and masks most of them (sdpa cannot skip blocks of
an arbitrary mask); the blocks compute only the allowed ones, with the causal kernel where it applies. Each
query reads the same keys at the same positions, so the output equals the masked call's up to the summation
order (tests: the module's logits and gradients against the masked call; the independence probe stays
bit-exact because a rejected query never reads a chosen key). Padding at the end of a row attends nothing and
outputs zeros (its hidden states are never read).

How it is reached: transformers looks up a model's attention function by name at every call and passes the
model call's extra keyword arguments down to it. :func:`install` registers :func:`segment_attention` as
``"sdpa"`` (wrapping whatever ``"sdpa"`` was); :func:`prefix_sharing.packed_call` passes the segments as the
``prefix_segments`` keyword. Without that keyword, or with an option the blocks do not implement (a logit
soft-cap, a position bias, attention sinks, a window shorter than a segment, a non-causal layer), the call
goes to the wrapped function with the mask unchanged: the same numbers as before, only slower. Gradient
checkpointing replays the same keywords, so the recomputed forward takes the same path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

KEYWORD = "prefix_segments"
UNSUPPORTED = ("softcap", "position_bias", "s_aux", "sinks")
Segment = tuple[int, int, int, int, int]  # row, start, prefix end, chosen end, end (offsets in the row)

_wrapped: dict[str, Callable] = {}


def _blocks_apply(module: nn.Module, kwargs: dict, segments: Sequence[Segment]) -> bool:
    if any(kwargs.get(name) is not None for name in UNSUPPORTED) or kwargs.get("output_attentions"):
        return False
    if kwargs.get("is_causal") is False or getattr(module, "is_causal", True) is False:
        return False  # the blocks are causal; a bidirectional layer keeps its mask
    window = kwargs.get("sliding_window")
    longest = max((end - start for _, start, _, _, end in segments), default=0)
    return window is None or longest <= window


def _attend(
    query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None, causal: bool, **options
) -> Tensor:
    return F.scaled_dot_product_attention(query, key, value, attn_mask=mask, is_causal=causal, **options)


def segment_blocks(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    segments: Sequence[Segment],
    scaling: float | None = None,
    dropout: float = 0.0,
) -> Tensor:
    """Attention of packed rows, segment by segment (module docstring).

    Args:
        query: ``(R, H, L, D)``; key, value: ``(R, H_kv, L, D)`` with ``H`` a multiple of ``H_kv`` (grouped
            queries).
        segments: ``(row, start, prefix_end, chosen_end, end)`` per pair, offsets in the row, in row order.

    Returns:
        ``(R, H, L, D)``: each real query's attention over its allowed keys; zeros on padding.
    """
    rows, heads, length, _ = query.shape
    if key.shape[0] != rows or key.shape[2] != length or value.shape != key.shape or heads % key.shape[1]:
        raise ValueError(
            f"segment attention: query {tuple(query.shape)}, key {tuple(key.shape)} and value "
            f"{tuple(value.shape)} are not (R, H, L, D) / (R, H_kv, L, D) with H a multiple of H_kv"
        )
    options = {"scale": scaling, "dropout_p": dropout, "enable_gqa": heads != key.shape[1]}
    out_rows = []
    for row in range(rows):
        q, k, v = query[row : row + 1], key[row : row + 1], value[row : row + 1]
        pieces, cursor = [], 0
        for _, start, prefix_end, chosen_end, end in (s for s in segments if s[0] == row):
            if (
                start != cursor
                or not start <= prefix_end <= chosen_end <= end <= length
                or chosen_end == start
            ):
                where = (row, start, prefix_end, chosen_end, end)
                raise ValueError(
                    f"segment attention: segment {where} does not follow the previous one (ends at {cursor}) "
                    f"inside a row of {length}"
                )
            span = slice(start, chosen_end)
            pieces.append(_attend(q[:, :, span], k[:, :, span], v[:, :, span], None, True, **options))
            if end > chosen_end:
                shared, rejected = prefix_end - start, end - chosen_end
                keys = torch.cat([k[:, :, start:prefix_end], k[:, :, chosen_end:end]], dim=2)
                values = torch.cat([v[:, :, start:prefix_end], v[:, :, chosen_end:end]], dim=2)
                # rejected query j reads the whole prefix and the rejected keys 0..j
                allowed = torch.ones(rejected, shared + rejected, dtype=torch.bool, device=q.device)
                allowed = allowed.tril(diagonal=shared)
                pieces.append(_attend(q[:, :, chosen_end:end], keys, values, allowed, False, **options))
            cursor = end
        if cursor < length:
            pieces.append(q.new_zeros(1, heads, length - cursor, q.shape[-1]))
        out_rows.append(torch.cat(pieces, dim=2))
    return torch.cat(out_rows, dim=0)


def segment_attention(
    module: nn.Module,
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attention_mask: Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs,
) -> tuple[Tensor, None]:
    """transformers' attention-function signature: :func:`segment_blocks` when the call carries
    ``prefix_segments`` and uses nothing the blocks lack, else the wrapped ``"sdpa"`` function, unchanged."""
    segments = kwargs.pop(KEYWORD, None)
    if segments is None or not _blocks_apply(module, kwargs, segments):
        return _wrapped["sdpa"](
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    output = segment_blocks(query, key, value, segments, scaling=scaling, dropout=dropout)
    return output.transpose(1, 2).contiguous(), None


def install() -> None:
    """Register :func:`segment_attention` as transformers' ``"sdpa"`` attention (idempotent). Every other call
    of ``"sdpa"`` in the process goes on to the function it wraps with the same arguments."""
    from transformers import AttentionInterface
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    current = ALL_ATTENTION_FUNCTIONS["sdpa"]
    if current is not segment_attention:
        _wrapped["sdpa"] = current
        AttentionInterface.register("sdpa", segment_attention)
