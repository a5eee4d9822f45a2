"""The comparisons of ``benchmarks/precision_check.py`` stay exact for gradients of real models' size."""

from __future__ import annotations

import pytest
import torch


def test_cosine_and_relative_error_of_a_long_gradient_are_exact():
    """A 270M-parameter gradient is one long vector: torch's fp32 cosine_similarity read 1.045 for a gradient
    against itself at Gemma 3 270M's size (1.0007 at 10^7 elements). Hand values: g against itself has
    cosine 1 and relative error 0; against 2g, cosine 1 and relative error ||g - 2g|| / ||2g|| = 1/2."""
    from precision_check import _compare

    gradient = torch.randn(10**7, generator=torch.Generator().manual_seed(0))
    same = _compare("same", 1.0, gradient, 1.0, gradient)
    assert same["grad_cosine"] == pytest.approx(1.0, abs=1e-9) and same["grad_rel_err"] == 0.0
    doubled = _compare("double", 1.0, gradient, 1.0, 2 * gradient)
    assert doubled["grad_cosine"] == pytest.approx(1.0, abs=1e-9)
    assert doubled["grad_rel_err"] == pytest.approx(0.5, rel=1e-9)
    opposite = _compare("opposite", 1.0, gradient, 1.0, -gradient)
    assert opposite["grad_cosine"] == pytest.approx(-1.0, abs=1e-9)
