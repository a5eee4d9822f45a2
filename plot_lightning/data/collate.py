"""Collate tokenised examples into right-padded batches; the batch layout is in ``PreferenceCollator``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from plot_lightning.data.tokenize import IGNORE_INDEX


def pad_right(sequences: Sequence[Sequence[int]], value: int) -> torch.Tensor:
    """Stack lists of ids into a ``(N, T)`` long tensor, right padded with ``value`` (T = longest)."""
    width = max(len(sequence) for sequence in sequences)
    batch = torch.full((len(sequences), width), value, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        batch[row, : len(sequence)] = torch.as_tensor(sequence, dtype=torch.long)
    return batch


class PreferenceCollator:
    """Turn examples with ``chosen_input_ids``, ``chosen_labels`` (+ ``rejected_*``), ``example_index`` and
    ``subpreference_id`` into a batch dict.

    Returns ``input_ids (N,T)``, ``attention_mask (N,T)``, ``labels (N,T)`` (long; -100 on prompt and
    padding), ``example_index (B,)``, ``subpreference_id (B,)`` and ``has_rejected`` (bool). For pairs
    N = 2B: rows [0, B) are the chosen sequences, rows [B, 2B) the rejected ones in the same order; for
    SFT data N = B.

    Args:
        pad_token_id: id written into padded ``input_ids`` positions (masked out by ``attention_mask``).
    """

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        if not examples:
            raise ValueError("cannot collate an empty list of examples")
        has_rejected = examples[0].get("rejected_input_ids") is not None
        sides = ["chosen", "rejected"] if has_rejected else ["chosen"]
        input_ids = [example[f"{side}_input_ids"] for side in sides for example in examples]
        labels = [example[f"{side}_labels"] for side in sides for example in examples]
        lengths = torch.tensor([len(ids) for ids in input_ids])
        width = int(lengths.max())
        attention_mask = (torch.arange(width)[None, :] < lengths[:, None]).long()
        return {
            "input_ids": pad_right(input_ids, self.pad_token_id),
            "attention_mask": attention_mask,
            "labels": pad_right(labels, IGNORE_INDEX),
            "example_index": torch.tensor(
                [example["example_index"] for example in examples], dtype=torch.long
            ),
            "subpreference_id": torch.tensor(
                [example["subpreference_id"] for example in examples], dtype=torch.long
            ),
            "has_rejected": has_rejected,
        }
