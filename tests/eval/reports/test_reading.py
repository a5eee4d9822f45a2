"""Model labels and the one definition of a degenerate interval."""

from __future__ import annotations

import pytest

from plot_eval.reports.reading import MIN_SAMPLES, degenerate_reason, model_label


@pytest.mark.parametrize(
    ("ci", "reason"),
    [
        ({"mean": 0.5, "ci_low": 0.0, "ci_high": 1.0, "n": MIN_SAMPLES - 1}, f"n=9 < {MIN_SAMPLES}"),
        ({"mean": 0.5, "ci_low": 0.5, "ci_high": 0.5, "n": 2}, f"n=2 < {MIN_SAMPLES}"),
        ({"mean": 0.5, "ci_low": 0.5, "ci_high": 0.5, "n": 40}, "zero width"),
        ({"mean": 0.5, "ci_low": 0.4, "ci_high": 0.6, "n": MIN_SAMPLES}, None),
        ({"n": 0, "ties": 0, "invalid": 3}, None),  # no interval at all: reported as n/a, not as degenerate
        (None, None),
    ],
)
def test_degenerate_reason(ci, reason):
    assert degenerate_reason(ci) == reason


def test_model_label_is_the_folder_tail_and_a_short_fingerprint():
    assert model_label({"name": "/home/u/runs/dpo_plot/export", "fingerprint": "1a2b3c4d" + "0" * 56}) == (
        "dpo_plot/export (1a2b3c4d)"
    )
    assert model_label({"name": "in-memory:LlamaForCausalLM", "fingerprint": "f" * 64}) == (
        "in-memory:LlamaForCausalLM (ffffffff)"
    )
    assert model_label({"name": "served-model"}) == "served-model"
