"""Ground cost between tokens for PLOT: a frozen, row-normalised copy of the token embedding matrix and
the cosine or L2 distance between sets of token ids.

With unit rows ``ê_u``: cosine ``C(u, v) = 1 - ê_u · ê_v`` lies in ``[0, 2]`` and L2
``||ê_u - ê_v|| = sqrt(2 C(u, v))`` lies in ``[0, 2]`` too; both are 0 on the diagonal.
"""

from __future__ import annotations

import torch
from torch import Tensor

from plot_lightning.losses.precision import compute_dtype
from plot_lightning.tensor_checks import check_choice, check_finite, check_shape

COST_KINDS = ("cosine", "l2")


def normalise_embedding(weight: Tensor) -> Tensor:
    """Detached copy of ``weight (V, d)`` with L2-normalised rows, fp32 (fp64 if given fp64); never a view of
    ``weight``, so a later in-place update cannot change it. A zero row stays zero (cosine cost 1), not NaN.
    """
    check_shape("weight", weight, (None, None))
    check_finite("weight", weight)
    dtype = compute_dtype(weight)
    rows = weight.detach().to(dtype)
    return torch.nn.functional.normalize(rows, p=2.0, dim=-1, eps=1e-12)


def pairwise_token_cost(
    unit_embedding: Tensor | CostEmbedding, ids_a: Tensor, ids_b: Tensor, kind: str = "cosine"
) -> Tensor:
    """``(..., n, m)`` cost (module docstring; the embedding's dtype, exactly 0 for equal ids) between every token
    of ``ids_a (..., n)`` and every token of ``ids_b (..., m)`` (same ``...``); ``unit_embedding (V, d)``
    must have unit rows (:func:`normalise_embedding`).
    """
    check_choice("kind", kind, COST_KINDS)
    check_cost_embedding("unit_embedding", unit_embedding, None)
    embedding = as_cost_embedding(unit_embedding)
    for name, ids in (("ids_a", ids_a), ("ids_b", ids_b)):
        if ids.dim() < 1 or ids.is_floating_point():
            raise ValueError(f"'{name}' (shape {tuple(ids.shape)}, dtype {ids.dtype}) must be integer ids")
        vocab_size = embedding.shape[0]
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
            raise ValueError(f"'{name}' (shape {tuple(ids.shape)}) holds ids outside [0, {vocab_size})")
    if ids_a.shape[:-1] != ids_b.shape[:-1]:
        raise ValueError(
            f"batch dims of 'ids_a' (shape {tuple(ids_a.shape)}) and 'ids_b' (shape {tuple(ids_b.shape)}) differ"
        )
    emb_a = embedding.rows(ids_a)  # (..., n, d)
    emb_b = emb_a if ids_b is ids_a else embedding.rows(ids_b)  # (..., m, d); one gather when the same
    similarity = emb_a @ emb_b.transpose(-1, -2)  # (..., n, m)
    # Rounding leaves ~1e-7 on the diagonal; a token's cost to itself is exactly 0 by definition.
    same_token = ids_a.unsqueeze(-1) == ids_b.unsqueeze(-2)  # (..., n, m)
    cosine = (1.0 - similarity).clamp(0.0, 2.0).masked_fill(same_token, 0.0)
    if kind == "cosine":
        return cosine
    # ||ê_a - ê_b||^2 = 2 - 2 ê_a · ê_b for unit rows; the embedding is frozen, so sqrt's slope at 0 is moot.
    return (2.0 * cosine).sqrt()


class CostEmbedding:
    """The frozen token embedding behind PLOT's ground cost, read as unit rows ``ê_v = w_v / n_v`` (V, d).

    ``weight (V, d)`` holds the rows and ``norms (V,)`` their L2 norms clamped to at least 1e-12 (the same
    division as :func:`normalise_embedding`, bit for bit), or None when the rows are unit already. Built by
    :meth:`copy` (a normalised fp32 copy of its own) or :meth:`shared` (a frozen fp32 weight that lives anyway,
    such as the reference's output embedding, read where it lives at each use: no ``V x d`` copy). The kernels
    read it only through :meth:`rows` and :meth:`negated_similarity`.
    """

    def __init__(self, weight: Tensor, norms: Tensor | None = None, *, shared: bool = False) -> None:
        check_shape("weight", weight, (None, None))
        if norms is not None:
            check_shape("norms", norms, (weight.shape[0],))
        self.weight, self.norms, self.is_shared = weight, norms, shared

    @classmethod
    def copy(cls, weight: Tensor) -> CostEmbedding:
        """A normalised fp32 (fp64 for fp64) copy of ``weight (V, d)``."""
        return cls(normalise_embedding(weight))

    @classmethod
    def shared(cls, weight: Tensor) -> CostEmbedding:
        """``weight (V, d)`` itself (fp32, frozen: not copied) and its row norms."""
        if weight.dtype != torch.float32 or weight.requires_grad:
            raise ValueError(
                f"a shared cost embedding needs a frozen fp32 weight, got dtype {weight.dtype}, "
                f"requires_grad={weight.requires_grad}"
            )
        check_finite("weight", weight)
        norms = weight.detach().norm(p=2.0, dim=-1).clamp_min(1e-12)  # as torch.nn.functional.normalize
        return cls(weight, norms, shared=True)

    @property
    def shape(self) -> torch.Size:
        return self.weight.shape

    @property
    def dtype(self) -> torch.dtype:
        return self.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.weight.device

    def _live_weight(self) -> Tensor:
        weight = self.weight.detach()
        if self.is_shared and (weight.dtype != torch.float32 or self.weight.requires_grad):
            raise RuntimeError(
                f"the shared PLOT cost embedding (the reference's output embedding) is now {weight.dtype}"
                f"{' and trainable' if self.weight.requires_grad else ''}: PLOT's cost needs it fp32 and frozen. "
                "Convert the module's dtype through the Trainer's precision (it keeps a copy then) or build "
                "PLOTModule(share_cost_embedding=False)"
            )
        return weight

    def to(self, device: torch.device | None = None, dtype: torch.dtype | None = None) -> CostEmbedding:
        """This embedding on ``device`` in ``dtype``: itself when both match; a shared one only moves ``n``
        (its weight moves with its module) and is never cast (a cast would be a ``V x d`` copy)."""
        device = self.device if device is None else torch.device(device)
        dtype = self.dtype if dtype is None else dtype
        if self.is_shared:
            if dtype != self.dtype:
                return CostEmbedding(self._live_weight().to(dtype), self.norms.to(device=device, dtype=dtype))
            if self.norms.device != self.device:
                self.norms = self.norms.to(self.device)
            return self
        if device == self.device and dtype == self.dtype:
            return self
        norms = None if self.norms is None else self.norms.to(device=device, dtype=dtype)
        return CostEmbedding(self.weight.to(device=device, dtype=dtype), norms)

    def rows(self, ids: Tensor) -> Tensor:
        """Unit rows ``ê[ids]``, ``(*ids.shape, d)``."""
        weight = self._live_weight()
        if self.norms is None:
            return weight[ids]
        return weight[ids] / self.norms.to(weight.device)[ids].unsqueeze(-1)

    def negated_similarity(self, targets: Tensor, out: Tensor | None = None) -> Tensor:
        """``-ê_y · ê_v`` for each of ``targets (n,)`` against every token ``v``: ``(n, V)``, into ``out``."""
        weight = self._live_weight()
        similarity = torch.mm(self.rows(targets).neg(), weight.T, out=out)  # (n, V)
        if self.norms is not None:
            similarity.div_(self.norms.to(weight.device))  # column scale 1 / n_v
        return similarity

    def unit_rows(self) -> Tensor:
        """The whole ``(V, d)`` unit-row matrix (a copy for a shared embedding): for checks and tests."""
        return self.rows(torch.arange(self.shape[0], device=self.device))


def as_cost_embedding(embedding: Tensor | CostEmbedding) -> CostEmbedding:
    """``embedding`` as a :class:`CostEmbedding`; a tensor must already have unit rows (checked by callers)."""
    return embedding if isinstance(embedding, CostEmbedding) else CostEmbedding(embedding)


def check_cost_embedding(name: str, embedding: Tensor | CostEmbedding, vocab_size: int | None) -> None:
    """Require ``(V, d)`` with ``V == vocab_size`` (any V when None), for a tensor or a :class:`CostEmbedding`."""
    if isinstance(embedding, CostEmbedding):
        if vocab_size is not None and embedding.shape[0] != vocab_size:
            raise ValueError(
                f"'{name}' (a cost embedding of shape {tuple(embedding.shape)}) must have {vocab_size} rows"
            )
        return
    check_shape(name, embedding, (vocab_size, None))
