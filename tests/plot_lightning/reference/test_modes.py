"""Reference modes are registered strategies: the three built-ins, and one defined here used by name."""

from __future__ import annotations

import math

import pytest
import torch

from plot_lightning.forward import causal_logits, reference_outputs_from_logits
from plot_lightning.module import PLOTModule
from plot_lightning.reference.mode import REFERENCE_MODES, ReferenceMode
from tests.plot_lightning.test_module import datamodule, write_pairs


def test_the_three_built_in_modes_are_registered():
    assert sorted(REFERENCE_MODES) == ["copy", "lora_disabled", "precomputed"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"reference": "copied"}, r"'reference' must be one of \('copy', 'lora_disabled', 'precomputed'\)"),
        ({"reference": "lora_disabled"}, "reference='lora_disabled' needs 'lora' settings"),
        ({"reference": "precomputed"}, "reference='precomputed' needs 'reference_cache_dir'"),
    ],
)
def test_a_mode_missing_what_it_needs_is_refused_at_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PLOTModule(model="tiny", losses=["dpo"], weights=[1.0], **kwargs)


class _PolicyAsReference(ReferenceMode):
    """The live policy under no_grad as its own reference: no frozen copy is kept."""

    def outputs(self, policy, reference, aligned, batch, stage):
        with torch.no_grad():
            return reference_outputs_from_logits(causal_logits(policy, aligned), aligned, self.settings.top_k)


def test_a_mode_registered_outside_the_package_is_used_by_name(tmp_path, quiet_trainer):
    """Policy == its own reference: DPO's log-ratios are 0, so the loss is ln 2 (= -log sigmoid 0) on every
    pair, and no frozen copy is held."""
    REFERENCE_MODES.register("policy_itself")(_PolicyAsReference)
    try:
        module = PLOTModule(model="tiny", losses=["dpo"], weights=[1.0], reference="policy_itself")
        (results,) = quiet_trainer(limit_val_batches=None).validate(
            module, datamodule=datamodule(write_pairs(tmp_path / "pairs.jsonl", count=4)), verbose=False
        )
    finally:
        REFERENCE_MODES.unregister("policy_itself")
    assert results["val/loss/dpo"] == pytest.approx(math.log(2), abs=1e-6)
    assert module.reference is None
