"""Validation of tensors at the public boundaries of the math (``ot/`` and ``losses/``; torch only). Every
failure is a ``ValueError`` that names the argument and its shape."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def _describe(name: str, tensor: Tensor) -> str:
    return f"'{name}' (shape {tuple(tensor.shape)}, dtype {tensor.dtype})"


def check_shape(name: str, tensor: Tensor, expected: Sequence[int | None]) -> None:
    """Require ``tensor.shape`` to match ``expected``; ``None`` entries match any size."""
    if not isinstance(tensor, Tensor):
        raise ValueError(f"'{name}' must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.dim() != len(expected) or any(
        want is not None and got != want for got, want in zip(tensor.shape, expected, strict=True)
    ):
        shown = tuple("*" if want is None else want for want in expected)
        raise ValueError(f"{_describe(name, tensor)} does not match the expected shape {shown}")


def check_choice(name: str, value, choices) -> None:
    """Require ``value`` to be one of ``choices`` (an option's name, not only a tensor's)."""
    if value not in choices:
        raise ValueError(f"'{name}' must be one of {tuple(choices)}, got {value!r}")


def positive(name: str, value: float, or_zero: bool = False) -> float:
    """``float(value)`` once ``value > 0`` (``>= 0`` with ``or_zero``) holds; else ValueError naming the option."""
    if not (value >= 0 if or_zero else value > 0):
        raise ValueError(f"'{name}' must be {'>=' if or_zero else '>'} 0, got {value}")
    return float(value)


def check_bool(name: str, mask: Tensor) -> None:
    """Require a bool tensor (a 0/1 integer mask is not accepted here: see :func:`as_bool_mask`)."""
    if mask.dtype != torch.bool:
        raise ValueError(f"{_describe(name, mask)} must be bool")


def check_finite(name: str, tensor: Tensor) -> None:
    """Reject NaN and +-inf: they would silently poison the loss."""
    if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
        bad = int((~torch.isfinite(tensor)).sum())
        raise ValueError(f"{_describe(name, tensor)} holds {bad} NaN or infinite value(s)")


def as_bool_mask(name: str, mask: Tensor) -> Tensor:
    """``mask`` as bool: a bool tensor as is, an integer tensor of 0/1 (an attention mask) converted."""
    if mask.dtype == torch.bool:
        return mask
    if mask.is_floating_point() or mask.is_complex():
        raise ValueError(f"{_describe(name, mask)} must be bool or 0/1 integers")
    if mask.numel() and not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError(
            f"{_describe(name, mask)} must hold only 0 and 1, got values {mask.unique()[:5].tolist()}"
        )
    return mask.bool()


def check_unit_rows(name: str, matrix: Tensor, *, atol: float = 1e-3) -> None:
    """Require every row of ``(V, d)`` ``matrix`` to have L2 norm 1 (or 0: a zero row is allowed)."""
    norms = torch.linalg.vector_norm(matrix.detach().float(), dim=-1)
    bad = ~((norms - 1).abs() <= atol) & ~(norms == 0)
    if bool(bad.any()):
        rows = bad.nonzero().flatten()[:5].tolist()
        raise ValueError(
            f"{_describe(name, matrix)} must have unit-norm rows (plot_cost.normalise_embedding(weight)); "
            f"{int(bad.sum())} row(s) are not, e.g. rows {rows} with norms {norms[rows].tolist()}"
        )


def check_mask_nonempty(name: str, mask: Tensor) -> None:
    """Require every row of a ``(B, T)`` mask to select at least one position."""
    empty = (mask.reshape(mask.shape[0], -1).sum(dim=-1) == 0).nonzero().flatten().tolist()
    if empty:
        raise ValueError(f"{_describe(name, mask)} selects no token in row(s) {empty[:10]}")


def check_labels_in_range(name: str, labels: Tensor, vocab_size: int, mask: Tensor | None = None) -> None:
    """Require integer labels in ``[0, vocab_size)`` wherever ``mask`` is True."""
    if labels.is_floating_point():
        raise ValueError(f"{_describe(name, labels)} must hold integer token ids")
    selected = labels[mask] if mask is not None else labels
    if selected.numel() and (int(selected.min()) < 0 or int(selected.max()) >= vocab_size):
        raise ValueError(
            f"{_describe(name, labels)} holds ids outside [0, {vocab_size}): "
            f"min {int(selected.min())}, max {int(selected.max())}"
        )


def check_marginal(name: str, weights: Tensor, *, atol: float = 1e-5) -> None:
    """Require ``(N, n)`` nonnegative weights whose rows sum to 1 (zero-mass atoms allowed)."""
    check_finite(name, weights)
    if bool((weights < 0).any()):
        raise ValueError(f"{_describe(name, weights)} has negative mass")
    totals = weights.sum(dim=-1)
    if not torch.allclose(totals, torch.ones_like(totals), atol=atol, rtol=0):
        worst = float((totals - 1).abs().max())
        raise ValueError(f"{_describe(name, weights)} rows must sum to 1 (worst deviation {worst:.3g})")
