"""``losses.term``: the one range check of the losses' scale options."""

from __future__ import annotations

import math

import pytest

from plot_lightning.losses.registry import LOSSES


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
