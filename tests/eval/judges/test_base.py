"""Position-swap win math on hand-built judges (expected scores derived in each docstring)."""

from __future__ import annotations

import pytest

from plot_eval.judges.base import Comparator, pairwise_score, programmatic_win, verdict


class AlwaysA:
    """Pure position bias: P(A) = 1 whatever the texts."""

    def compare(self, prompt, response_a, response_b):
        return 1.0


class PrefersLonger:
    """P(A) = 1 if A is longer, 0 if shorter, 0.5 if equal length: position-independent."""

    def compare(self, prompt, response_a, response_b):
        return 1.0 if len(response_a) > len(response_b) else 0.0 if len(response_a) < len(response_b) else 0.5


class Constant:
    def __init__(self, p):
        self.p = p

    def compare(self, prompt, response_a, response_b):
        return self.p


def test_position_biased_judge_gives_tie():
    """Model first: A wins -> 1. Model second: A (baseline) wins -> model 0. Disagreement -> 0.5."""
    assert pairwise_score(AlwaysA(), "Q", "short", "a much longer answer") == 0.5


def test_content_judge_gives_win_loss_tie():
    """Longer model: 1 in both orders -> 1. Shorter: 0 in both -> 0. Same length: 0.5 in both -> 0.5."""
    judge = PrefersLonger()
    assert pairwise_score(judge, "Q", "a much longer answer", "short") == 1.0
    assert pairwise_score(judge, "Q", "short", "a much longer answer") == 0.0
    assert pairwise_score(judge, "Q", "abc", "xyz") == 0.5


def test_soft_probabilities_are_thresholded():
    """P(A) = 0.7 always: model first -> 1; model second -> 1 - 1 = 0; disagreement -> 0.5."""
    assert pairwise_score(Constant(0.7), "Q", "m", "b") == 0.5
    assert pairwise_score(Constant(0.5), "Q", "m", "b") == 0.5


def test_invalid_probability_rejected():
    with pytest.raises(ValueError, match="probability_a"):
        pairwise_score(Constant(1.5), "Q", "m", "b")
    assert verdict(0.51) == 1.0 and verdict(0.49) == 0.0 and verdict(0.5) == 0.5


def test_protocol_and_programmatic_win():
    assert isinstance(PrefersLonger(), Comparator)
    assert not isinstance(object(), Comparator)
    assert [
        programmatic_win(m, b) for m, b in [(True, False), (True, True), (False, False), (False, True)]
    ] == [
        1.0,
        0.5,
        0.5,
        0.0,
    ]


class InvalidSecondTime:
    """Valid verdict in the first order, no verdict (None) in the swapped one."""

    def __init__(self):
        self.calls = 0

    def compare(self, prompt, response_a, response_b):
        self.calls += 1
        return 1.0 if self.calls == 1 else None


def test_an_invalid_verdict_in_either_order_makes_the_sample_invalid_never_a_win():
    assert pairwise_score(InvalidSecondTime(), "q", "model", "baseline") is None
