"""The demo's closing table: per-pair log-prob margins against a direct computation on the tiny model, and
the table's numbers derived by hand from given margins."""

from __future__ import annotations

import pytest
import torch

from plot_lightning.data.pair_batches import encode_pairs
from plot_lightning.demo_heldout import change_table, pair_margins
from plot_lightning.models.tiny import tiny_model


def test_pair_margins_equal_a_direct_log_softmax(tiny_tokenizer) -> None:
    """``log pi(chosen) - log pi(rejected)`` over the response tokens, recomputed from the model's logits on
    each sequence alone (no padding, no batching; the same tokenisation): 3 pairs, 2 per forward in the function."""
    model = tiny_model(len(tiny_tokenizer), seed=4)
    records = [
        {
            "prompt": [{"role": "user", "content": f"Question {i}: bread?"}],
            "chosen": "Mix and bake. " * (i + 1),
            "rejected": "No.",
        }
        for i in range(3)
    ]
    margins = pair_margins(model, tiny_tokenizer, records, 128, None)
    assert margins.shape == (3,)

    def response_logp(encoding: dict) -> float:
        """Summed log-probs of the tokens whose label is not -100, from this one sequence's logits."""
        ids, labels = torch.tensor([encoding["input_ids"]]), torch.tensor(encoding["labels"])
        with torch.no_grad():
            logps = torch.log_softmax(model(input_ids=ids).logits[0, :-1].double(), -1)
        targets = labels[1:]
        kept = targets != -100
        return float(logps[kept].gather(-1, targets[kept, None]).sum())

    encoded = encode_pairs(records, tiny_tokenizer, 128, None)  # the tokenisation itself is tested elsewhere
    expected = [response_logp(chosen) - response_logp(rejected) for _, chosen, rejected in encoded]
    assert margins.tolist() == pytest.approx(expected, abs=1e-3)


def test_change_table_numbers_by_hand() -> None:
    """before m = (1, -2, 3, -4): accuracy 2/4, mean -0.5; after m = (2, -1, 1, -4): accuracy 2/4, mean -0.5;
    reward 0.1 (after - before) = (0.1, 0.1, -0.2, 0): mean 0, 2 of 4 positive."""
    table = change_table(
        {"before": torch.tensor([1.0, -2, 3, -4]), "after": torch.tensor([2.0, -1, 1, -4]), "beta": 0.1}
    )
    lines = table.splitlines()
    assert "n = 4" in lines[0]
    assert lines[2].split()[-4:] == ["0.500", "(2/4)", "0.500", "(2/4)"]
    assert lines[3].split()[-2:] == ["-0.500", "-0.500"]
    assert lines[4].split()[-1] in ("+0.0000", "-0.0000")
    assert lines[5].split()[-2:] == ["0.500", "(2/4)"]
    assert "within chance" in lines[6]
