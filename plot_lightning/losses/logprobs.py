"""Log-probabilities of target tokens, in fp32 whatever the logits' dtype, and the reading of paired
log-probs out of a :class:`PreferenceForward`.

Memory: ``log_softmax(logits.float())`` would keep one or two extra ``(B, T, V)`` fp32 tensors alive until
backward. :func:`token_logps` computes it in fp32 over chunks of positions, keeps only the target entries and
saves only the logits it was given (a strided view, never copied); backward recomputes the softmax chunk by
chunk. Peak extra memory: one ``(chunk, V)`` fp32 block, for a second softmax pass in backward.
"""

from __future__ import annotations

import torch
from torch import Tensor

from plot_lightning.tensor_checks import check_bool, check_labels_in_range, check_mask_nonempty, check_shape

from .precision import compute_dtype, fp32_math
from .types import PreferenceForward

DEFAULT_CHUNK = 1024  # positions per fp32 block: 1024 x 49,152 vocab x 4 bytes = 200 MB


def position_blocks(batch: int, length: int, chunk: int):
    """``(rows, positions)`` slices covering ``(batch, length)`` with about ``chunk`` positions each."""
    if length >= chunk:
        for row in range(batch):
            for start in range(0, length, chunk):
                yield slice(row, row + 1), slice(start, start + chunk)
        return
    rows = max(1, chunk // length)
    for start in range(0, batch, rows):
        yield slice(start, start + rows), slice(None)


class _TargetLogProb(torch.autograd.Function):
    """``log softmax(z)[y]`` per position of ``z (B, T, V)`` (any strided view, saved as is); gradient
    ``onehot(y) - softmax(z)``."""

    @staticmethod
    def forward(ctx, logits: Tensor, labels: Tensor, chunk: int) -> Tensor:
        dtype = compute_dtype(logits)
        batch, length, _ = logits.shape
        target_logps = torch.empty(batch, length, dtype=dtype, device=logits.device)
        for block in position_blocks(batch, length, chunk):
            log_probs = torch.log_softmax(logits[block].to(dtype), dim=-1)  # freed after the gather
            target_logps[block] = log_probs.gather(-1, labels[block].unsqueeze(-1)).squeeze(-1)
        ctx.save_for_backward(logits, labels)
        ctx.chunk, ctx.dtype = chunk, dtype
        return target_logps

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: Tensor) -> tuple[Tensor, None, None]:
        logits, labels = ctx.saved_tensors
        grad = torch.empty(logits.shape, dtype=logits.dtype, device=logits.device)
        for block in position_blocks(logits.shape[0], logits.shape[1], ctx.chunk):
            weight = grad_out[block].unsqueeze(-1).to(ctx.dtype)
            probs = torch.softmax(logits[block].to(ctx.dtype), dim=-1).mul_(-weight)
            grad[block] = probs.scatter_add_(-1, labels[block].unsqueeze(-1), weight)
        return grad, None, None


@fp32_math
def token_logps(logits: Tensor, labels: Tensor, mask: Tensor, *, chunk: int = DEFAULT_CHUNK) -> Tensor:
    """``(B, T)`` log-probabilities (nats) of ``labels (B, T)`` long under ``softmax(logits (B, T, V))`` (any
    float dtype), fp32 (fp64 for fp64 logits), exactly 0 where ``mask (B, T)`` bool is False; labels must lie in
    ``[0, V)`` where it is True. ``chunk``: positions per fp32 block (see the module docstring)."""
    check_shape("logits", logits, (None, None, None))
    batch, length, vocab = logits.shape
    check_shape("labels", labels, (batch, length))
    check_shape("mask", mask, (batch, length))
    check_bool("mask", mask)
    if not logits.is_floating_point():
        raise ValueError(f"'logits' (shape {tuple(logits.shape)}) must be floating point, got {logits.dtype}")
    check_labels_in_range("labels", labels, vocab, mask)
    safe_labels = labels.masked_fill(~mask, 0).long()
    per_token = _TargetLogProb.apply(logits, safe_labels, chunk)  # (B, T); no copy of the logits
    return masked_logps(per_token, mask, logits.shape)


def masked_logps(per_token: Tensor, mask: Tensor, logits_shape: torch.Size) -> Tensor:
    """``per_token (B, T)`` with 0 where ``mask`` is False; ValueError if a masked-in entry is not finite."""
    selected = per_token.detach()[mask]
    if not bool(torch.isfinite(selected).all()):
        bad = int((~torch.isfinite(selected)).sum())
        raise ValueError(
            f"'logits' (shape {tuple(logits_shape)}) give {bad} non-finite log-prob(s) on masked-in "
            "tokens (NaN/inf logits, or -inf on a target token)"
        )
    return per_token.masked_fill(~mask, 0.0)


def sequence_logps(logits: Tensor, labels: Tensor, mask: Tensor, *, average: bool = False) -> Tensor:
    """``(B,)`` summed (with ``average``, per-token mean) log-probs of each response, fp32 (fp64 for fp64
    logits). Args as :func:`token_logps`; every row of ``mask`` must select at least one token."""
    check_shape("mask", mask, (None, None))
    check_mask_nonempty("mask", mask)
    per_token = token_logps(logits, labels, mask)
    summed = per_token.sum(dim=-1)
    return summed / mask.sum(dim=-1).to(summed.dtype) if average else summed


def split_pairs(x: Tensor) -> tuple[Tensor, Tensor]:
    """``(chosen (B, ...), rejected (B, ...))`` views of a concatenated forward ``(2B, ...)``."""
    if not isinstance(x, Tensor) or x.dim() == 0:
        raise ValueError(f"'x' must be a tensor with a batch dimension, got {getattr(x, 'shape', x)!r}")
    if x.shape[0] % 2:
        raise ValueError(f"'x' (shape {tuple(x.shape)}) needs an even first dimension (chosen + rejected)")
    half = x.shape[0] // 2
    return x[:half], x[half:]


def pair_logps(batch: PreferenceForward, loss_name: str) -> tuple[Tensor, Tensor]:
    """Policy ``(chosen (B,), rejected (B,))`` summed log-probs; ValueError if the batch has no pairs."""
    if batch.rejected is None:
        raise ValueError(f"loss '{loss_name}' needs rejected responses but the batch has none (SFT data)")
    chosen, rejected = batch.chosen.logps, batch.rejected.logps
    check_shape("chosen.logps", chosen, (None,))
    check_shape("rejected.logps", rejected, (chosen.shape[0],))
    return chosen, rejected


def reference_logratios(batch: PreferenceForward, loss_name: str) -> tuple[Tensor, Tensor]:
    """``(log pi(y_w)/ref(y_w), log pi(y_l)/ref(y_l))``, each ``(B,)``, from summed log-probs."""
    chosen, rejected = pair_logps(batch, loss_name)
    ref_chosen, ref_rejected = batch.chosen.ref_logps, batch.rejected.ref_logps
    if ref_chosen is None or ref_rejected is None:
        raise ValueError(f"loss '{loss_name}' needs reference log-probs (ref_logps) on both sides")
    check_shape("chosen.ref_logps", ref_chosen, tuple(chosen.shape))
    check_shape("rejected.ref_logps", ref_rejected, tuple(chosen.shape))
    return chosen - ref_chosen, rejected - ref_rejected
