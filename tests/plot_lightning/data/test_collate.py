import pytest
import torch

from plot_lightning.data.collate import PreferenceCollator, pad_right

EXAMPLES = [
    {
        "chosen_input_ids": [5, 6, 7],
        "chosen_labels": [-100, 6, 7],
        "rejected_input_ids": [5, 8],
        "rejected_labels": [-100, 8],
        "example_index": 4,
        "subpreference_id": 1,
    },
    {
        "chosen_input_ids": [9, 10],
        "chosen_labels": [-100, 10],
        "rejected_input_ids": [9, 11, 12, 13],
        "rejected_labels": [-100, 11, 12, 13],
        "example_index": 2,
        "subpreference_id": 0,
    },
]


def test_pairs_chosen_rows_then_rejected_rows_right_padded():
    batch = PreferenceCollator(pad_token_id=0)(EXAMPLES)
    assert batch["has_rejected"] is True
    assert batch["input_ids"].tolist() == [[5, 6, 7, 0], [9, 10, 0, 0], [5, 8, 0, 0], [9, 11, 12, 13]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1]]
    assert batch["labels"].tolist() == [
        [-100, 6, 7, -100],
        [-100, 10, -100, -100],
        [-100, 8, -100, -100],
        [-100, 11, 12, 13],
    ]
    assert batch["example_index"].tolist() == [4, 2]
    assert batch["subpreference_id"].tolist() == [1, 0]
    assert all(
        batch[key].dtype == torch.long for key in ("input_ids", "attention_mask", "labels", "example_index")
    )


def test_sft_examples_give_n_equals_b():
    sft = [
        {key: value for key, value in example.items() if not key.startswith("rejected")}
        for example in EXAMPLES
    ]
    batch = PreferenceCollator(pad_token_id=3)(sft)
    assert batch["has_rejected"] is False
    assert batch["input_ids"].tolist() == [[5, 6, 7], [9, 10, 3]]
    assert batch["labels"].shape == (2, 3)


def test_pad_right_and_empty_batch():
    assert pad_right([[1], [2, 3]], -1).tolist() == [[1, -1], [2, 3]]
    with pytest.raises(ValueError, match="empty"):
        PreferenceCollator(0)([])
