"""``ModelVerdicts``: the probe runs once per model object, its verdict is kept, a warning comes once per
object (the two ranks' agreement is tested on 2 gloo processes in multiprocess/test_rank_checks.py)."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from plot_lightning.model_verdicts import ModelVerdicts


def test_the_probe_runs_once_per_model_object_and_its_verdict_is_kept() -> None:
    verdicts, calls = ModelVerdicts(), []
    first, second = nn.Linear(2, 2), nn.Linear(2, 2)

    def probe(reason):
        return lambda: calls.append(reason) or reason

    assert verdicts.problem(first, torch.device("cpu"), probe("too wide")) == "too wide"
    assert verdicts.problem(first, torch.device("cpu"), probe(None)) == "too wide"  # kept, not re-probed
    assert verdicts.problem(second, torch.device("cpu"), probe(None)) is None
    assert calls == ["too wide", None]


def test_a_warning_once_per_model_object() -> None:
    verdicts, first, second = ModelVerdicts(), nn.Linear(2, 2), nn.Linear(2, 2)
    with pytest.warns(UserWarning, match="falls back") as seen:
        for model in (first, first, second):
            verdicts.warn_once(model, "it falls back")
    assert len(seen) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        verdicts.warn_once(first, "it falls back")
