"""``tensor_checks``: each check refuses with a one-line message naming the argument, and passes good input."""

from __future__ import annotations

import pytest
import torch

from plot_lightning.heads.checks import check_cost_rows
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
