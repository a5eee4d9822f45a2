"""``tensor_checks``: each check refuses with a one-line message naming the argument, and passes good input."""

from __future__ import annotations

import math

import pytest
import torch

from plot_lightning.heads.checks import check_cost_rows
from plot_lightning.losses.registry import LOSSES
from plot_lightning.tensor_checks import check_bool, check_choice


def test_check_choice_names_the_option_and_the_choices():
    check_choice("cost", "l2", ("cosine", "l2"))
    with pytest.raises(ValueError, match=r"^'cost' must be one of \('cosine', 'l2'\), got 'L2'$"):
        check_choice("cost", "L2", ("cosine", "l2"))
    with pytest.raises(ValueError, match=r"one of \('a', 'b'\), got None"):  # a mapping's keys as choices
        check_choice("mode", None, {"a": 1, "b": 2})


def test_check_bool_refuses_a_01_integer_mask():
    check_bool("mask", torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"^'mask' \(shape \(2, 3\), dtype torch.int64\) must be bool$"):
        check_bool("mask", torch.ones(2, 3, dtype=torch.long))


@pytest.mark.parametrize(
    "cost_rows, embedding, message",
    [
        (range(0, 5), True, r"contiguous range within \[0, 4\], got range\(0, 5\)"),
        (range(0, 4, 2), True, r"contiguous range"),
        (range(-1, 2), True, r"contiguous range"),
        (range(0, 2), False, r"'cost_rows' = range\(0, 2\) needs a 'unit_embedding'"),
    ],
)
def test_check_cost_rows(cost_rows, embedding, message):
    unit = torch.nn.functional.normalize(torch.randn(7, 3), dim=-1)
    check_cost_rows(range(0, 4), 4, unit, 7)
    check_cost_rows(range(0), 4, None, 7)  # no cost rows: no embedding needed
    with pytest.raises(ValueError, match=message):
        check_cost_rows(cost_rows, 4, unit if embedding else None, 7)


@pytest.mark.parametrize(
    "name, option, bad, good",
    [
        ("dpo", "beta", 0.0, 0.1),
        ("simpo", "beta", 0.0, 2.0),
        ("pro", "temperature", 0.0, 1.0),
        ("pro", "sft_weight", -0.1, 0.0),
        ("orpo", "beta", -0.1, 0.0),
        ("plot", "gamma", -1.0, 0.0),
        ("plot", "margin", -1.0, 0.0),
        ("plot", "margin", math.nan, 0.0),
    ],
)
def test_a_scale_option_out_of_range_is_refused_by_name(name, option, bad, good):
    """Strict options refuse 0, the others a negative; NaN fails every comparison, so it is refused too; the
    boundary value of a non-strict option is kept as a float."""
    sign = ">=" if good == 0.0 else ">"
    with pytest.raises(ValueError, match=rf"^'{option}' must be {sign} 0, got {bad}$"):
        LOSSES[name](**{option: bad})
    assert getattr(LOSSES[name](**{option: good}), option) == good
