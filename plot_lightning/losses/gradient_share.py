"""Gradient norms of separate loss terms, for the gradient share ``||w_k g_k|| / ||w_0 g_0||`` of each term."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor


def term_gradient_norms(terms: Mapping[str, Tensor], params: Sequence[Tensor]) -> dict[str, Tensor]:
    """``{name: ||d terms[name] / d params||_2}`` (norm over all ``params`` together), detached fp64 scalars.

    One backward pass per term, each keeping the graph (``retain_graph``) for the training backward that
    follows; no ``.grad`` is touched. A term that does not depend on some parameter counts 0 for it.
    """
    norms = {}
    for name, term in terms.items():
        grads = torch.autograd.grad(term, list(params), retain_graph=True, allow_unused=True)
        squares = [g.detach().double().pow(2).sum() for g in grads if g is not None]
        norms[name] = torch.stack(squares).sum().sqrt() if squares else torch.zeros((), dtype=torch.float64)
    return norms
