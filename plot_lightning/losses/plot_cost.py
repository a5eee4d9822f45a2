"""Ground cost between tokens for PLOT: a frozen, row-normalised copy of the token embedding matrix and
the cosine or L2 distance between sets of token ids.

With unit rows ``ê_u``: cosine ``C(u, v) = 1 - ê_u · ê_v`` lies in ``[0, 2]`` and L2
``||ê_u - ê_v|| = sqrt(2 C(u, v))`` lies in ``[0, 2]`` too; both are 0 on the diagonal.
"""

from __future__ import annotations

import torch
from torch import Tensor

from plot_lightning.tensor_checks import check_finite, check_shape

COST_KINDS = ("cosine", "l2")


def normalise_embedding(weight: Tensor) -> Tensor:
    """Detached copy of ``weight (V, d)`` with L2-normalised rows, fp32 (fp64 if given fp64).

    The result is always a new tensor (``normalize`` writes its output), never a view of ``weight``: a later
    in-place update of the weight (an optimizer step, FSDP resharding) cannot change it.
    A zero row stays zero (its cosine cost to everything is then 1) instead of becoming NaN.
    """
    check_shape("weight", weight, (None, None))
    check_finite("weight", weight)
    dtype = torch.float64 if weight.dtype == torch.float64 else torch.float32
    rows = weight.detach().to(dtype)
    return torch.nn.functional.normalize(rows, p=2.0, dim=-1, eps=1e-12)


def pairwise_token_cost(unit_embedding: Tensor, ids_a: Tensor, ids_b: Tensor, kind: str = "cosine") -> Tensor:
    """Cost between every token of ``ids_a (..., n)`` and every token of ``ids_b (..., m)``.

    ``unit_embedding (V, d)`` must have unit rows (see :func:`normalise_embedding`). Returns
    ``(..., n, m)`` in the embedding's dtype: ``kind="cosine"`` gives ``1 - ê_a · ê_b`` clamped to
    ``[0, 2]``; ``kind="l2"`` gives ``||ê_a - ê_b|| = sqrt(2 - 2 ê_a · ê_b)``, also in ``[0, 2]``.
    Equal ids cost exactly 0.
    The batch dimensions ``...`` of the two id tensors must agree.
    """
    if kind not in COST_KINDS:
        raise ValueError(f"'kind' must be one of {COST_KINDS}, got {kind!r}")
    check_shape("unit_embedding", unit_embedding, (None, None))
    for name, ids in (("ids_a", ids_a), ("ids_b", ids_b)):
        if ids.dim() < 1 or ids.is_floating_point():
            raise ValueError(f"'{name}' (shape {tuple(ids.shape)}, dtype {ids.dtype}) must be integer ids")
        vocab_size = unit_embedding.shape[0]
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
            raise ValueError(f"'{name}' (shape {tuple(ids.shape)}) holds ids outside [0, {vocab_size})")
    if ids_a.shape[:-1] != ids_b.shape[:-1]:
        raise ValueError(
            f"batch dims of 'ids_a' (shape {tuple(ids_a.shape)}) and 'ids_b' (shape {tuple(ids_b.shape)}) differ"
        )
    emb_a = unit_embedding[ids_a]  # (..., n, d)
    emb_b = emb_a if ids_b is ids_a else unit_embedding[ids_b]  # (..., m, d); one gather when the same
    similarity = emb_a @ emb_b.transpose(-1, -2)  # (..., n, m)
    # Rounding leaves ~1e-7 on the diagonal; a token's cost to itself is exactly 0 by definition.
    same_token = ids_a.unsqueeze(-1) == ids_b.unsqueeze(-2)  # (..., n, m)
    cosine = (1.0 - similarity).clamp(0.0, 2.0).masked_fill(same_token, 0.0)
    if kind == "cosine":
        return cosine
    # ||ê_a - ê_b||^2 = 2 - 2 ê_a · ê_b for unit rows; the embedding is frozen, so sqrt's slope at 0 is moot.
    return (2.0 * cosine).sqrt()
