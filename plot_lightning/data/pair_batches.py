"""Preference pairs for a measurement pass outside training (the demo's before/after table, the experiments'
held-out measurements), read, tokenized and batched the way training does them."""

from __future__ import annotations

from typing import Any


def load_pair_records(files: list[str], limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` valid preference rows of ``files`` (bad rows skipped, pairs required)."""
    from plot_lightning.data.records import load_records
    from plot_lightning.data.validation import BadRowLog

    records, has_rejected = load_records(files, "auto", BadRowLog("skip"))
    if not has_rejected:
        raise ValueError(f"files {files} hold no preference pairs (chosen and rejected)")
    return records[:limit]


def encode_pairs(records: list[dict[str, Any]], tokenizer, max_length: int, max_prompt_length: int | None):
    """Batches-to-be: ``[(record, chosen_encoding, rejected_encoding)]``; rows that do not fit are skipped."""
    from plot_lightning.data.errors import RowProblem
    from plot_lightning.data.tokenize import ChatEncoder

    encoder = ChatEncoder(tokenizer, max_length, max_prompt_length)
    encoded = []
    for record in records:
        try:
            chosen = encoder.encode(record["prompt"], record["chosen"], "chosen")
            rejected = encoder.encode(record["prompt"], record["rejected"], "rejected")
        except RowProblem:
            continue
        encoded.append((record, chosen, rejected))
    return encoded


def collate_pairs(items, pad_id: int) -> dict[str, Any]:
    """One preference batch (chosen rows, then rejected rows) from ``encode_pairs`` items."""
    from plot_lightning.data.collate import PreferenceCollator

    examples = [
        {
            "chosen_input_ids": c["input_ids"], "chosen_labels": c["labels"],
            "rejected_input_ids": r["input_ids"], "rejected_labels": r["labels"],
            "example_index": i, "subpreference_id": 0,
        }
        for i, (_, c, r) in enumerate(items)
    ]  # fmt: skip
    return PreferenceCollator(pad_id)(examples)
