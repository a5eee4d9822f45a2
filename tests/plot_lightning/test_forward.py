"""Token alignment and the building of PreferenceForward from one concatenated forward."""

from __future__ import annotations

import pytest
import torch

from plot_lightning.forward import (
    ReferenceOutputs,
    align_batch,
    preference_forward,
    reference_outputs_from_logits,
    select_examples,
)


def pair_batch() -> dict:
    """B = 1 pair, T = 4. Chosen: prompt [5], response [6, 7], pad. Rejected: prompt [5], response [8, 9, 10].

    After the shift, aligned position t predicts token t+1: chosen targets = labels[:, 1:] = [6, 7, -100], so
    mask [T, T, F] (position 0 predicts the first response token 6 from the prompt token 5).
    """
    return {
        "input_ids": torch.tensor([[5, 6, 7, 0], [5, 8, 9, 10]]),
        "attention_mask": torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]]),
        "labels": torch.tensor([[-100, 6, 7, -100], [-100, 8, 9, 10]]),
        "has_rejected": True,
    }


def test_align_batch_shifts_once() -> None:
    aligned = align_batch(pair_batch())
    assert aligned.targets.tolist() == [[6, 7, 0], [8, 9, 10]]
    assert aligned.mask.tolist() == [[True, True, False], [True, True, True]]
    assert aligned.has_rejected


def test_preference_forward_splits_pairs_and_sums_fp32_logps() -> None:
    """Uniform logits over V = 16: each counted token has log-prob -ln 16; chosen 2 tokens, rejected 3."""
    batch = pair_batch()
    aligned = align_batch(batch)
    logits = torch.zeros(2, 3, 16, dtype=torch.bfloat16)
    reference = ReferenceOutputs(logps=torch.tensor([-1.0, -2.0]))
    forward = preference_forward(logits, aligned, reference)
    log16 = torch.log(torch.tensor(16.0))
    torch.testing.assert_close(forward.chosen.logps, -2 * log16[None])
    torch.testing.assert_close(forward.rejected.logps, -3 * log16[None])
    assert forward.chosen.logps.dtype == torch.float32
    assert forward.chosen.ref_logps.tolist() == [-1.0] and forward.rejected.ref_logps.tolist() == [-2.0]
    assert forward.chosen.logits.shape == (1, 3, 16)


def test_sft_batch_has_no_rejected_side_and_select_examples() -> None:
    batch = dict(pair_batch(), has_rejected=False)
    aligned = align_batch(batch)
    forward = preference_forward(torch.randn(2, 3, 16), aligned)
    assert forward.rejected is None and forward.chosen.logps.shape == (2,)
    subset = select_examples(forward, torch.tensor([False, True]))
    assert subset.chosen.labels.tolist() == [[8, 9, 10]]


def test_shapes_are_checked() -> None:
    batch = pair_batch()
    with pytest.raises(ValueError, match="attention_mask"):
        align_batch(dict(batch, attention_mask=batch["attention_mask"][:, :3]))
    with pytest.raises(ValueError, match="even"):
        align_batch({k: (v[:1] if torch.is_tensor(v) else v) for k, v in batch.items()})


def test_reference_topk_is_sorted_fp32() -> None:
    aligned = align_batch(pair_batch())
    logits = torch.randn(2, 3, 16)
    reference = reference_outputs_from_logits(logits, aligned, top_k=4)
    assert reference.topk_ids.shape == (2, 3, 4) and reference.topk_logps.dtype == torch.float32
    expected = torch.log_softmax(logits, -1).topk(4, dim=-1)
    torch.testing.assert_close(reference.topk_logps, expected.values)
