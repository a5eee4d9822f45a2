"""Input checks of the heads (:mod:`fused_head`, :mod:`logits_head`): shapes, options, id ranges."""

from __future__ import annotations

from torch import Tensor

from plot_lightning.losses.plot_cost import COST_KINDS, check_cost_embedding
from plot_lightning.tensor_checks import check_bool, check_choice, check_labels_in_range, check_shape


def check_fused_inputs(
    hidden, weight, bias, targets, mask, unit_embedding, cost_rows: range, cost, chunk
) -> None:
    """ValueError naming the argument for bad shapes, dtypes, options or target ids."""
    check_shape("hidden", hidden, (None, None, None))
    rows, length, width = hidden.shape
    check_shape("weight", weight, (None, width))
    if bias is not None:
        check_shape("bias", bias, (weight.shape[0],))
    check_shape("targets", targets, (rows, length))
    check_shape("mask", mask, (rows, length))
    check_bool("mask", mask)
    check_cost_rows(cost_rows, rows, unit_embedding, weight.shape[0])
    check_choice("cost", cost, COST_KINDS)
    if chunk < 1:
        raise ValueError(f"'chunk' must be >= 1, got {chunk}")
    check_labels_in_range("targets", targets, weight.shape[0], mask)


def check_cost_rows(cost_rows: range, rows: int, unit_embedding, vocab: int) -> None:
    """The rows given dirac costs: a contiguous ``range`` within ``[0, rows]``, non-empty only with a
    ``unit_embedding (V, d)`` (the module's cost embedding)."""
    if cost_rows.step != 1 or not 0 <= cost_rows.start <= cost_rows.stop <= rows:
        raise ValueError(f"'cost_rows' must be a contiguous range within [0, {rows}], got {cost_rows}")
    if unit_embedding is None and len(cost_rows):
        raise ValueError(f"'cost_rows' = {cost_rows} needs a 'unit_embedding' (V, d)")
    if unit_embedding is not None:
        check_cost_embedding("unit_embedding", unit_embedding, vocab)


def check_support_inputs(
    targets: Tensor, mask: Tensor, vocab: int, support_rows: int, top_k: int, extra_ids
) -> None:
    """ValueError for support settings: rows in ``[0, N]``, ``top_k`` in ``[0, V]``, ``extra_ids (N, T, E)``."""
    rows, length = targets.shape
    if not 0 <= support_rows <= rows:
        raise ValueError(f"'support_rows' must lie in [0, {rows}], got {support_rows}")
    if not (isinstance(top_k, int) and 0 <= top_k <= vocab):
        raise ValueError(f"'top_k' must be an integer in [0, {vocab}], got {top_k!r}")
    if extra_ids is None:
        return
    check_shape("extra_ids", extra_ids, (rows, length, None))
    if extra_ids.is_floating_point():
        raise ValueError(f"'extra_ids' (shape {tuple(extra_ids.shape)}) must be integer ids")
    support_mask = mask.clone()
    support_mask[support_rows:] = False
    check_labels_in_range("extra_ids", extra_ids, vocab, support_mask)
