"""The arithmetic experiment's measurements of one policy, one value per item, against the frozen reference.

Three item sets, each a list of dicts written as they are (every interval is recomputed from them):

- ``accuracy``: per held-out prompt, ``correct`` (1/0): the greedy continuation of the prefilled prompt starts
  with the exact answer (:func:`~.arithmetic_task.is_correct`).
- ``ontask``: per held-out prompt among the first ``ontask_items``, over the tokens of the canonical correct
  response: ``kl`` (sum of per-token ``KL(policy || reference)``, whole vocabulary), ``nll`` and ``ref_nll``
  (sums of ``-log p`` of the response tokens) and ``tokens``.
- ``offtask``: per Human Values held-out pair, the same sums over its chosen response: the chosen-perplexity
  drift away from the task ("fluency kept").

Logits and log-probs are fp32. Models are put in eval mode and restored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from plot_lightning.experiment.arithmetic_data import continuations
from plot_lightning.experiment.arithmetic_task import is_correct
from plot_lightning.experiment.distribution_math import masked_count, target_nll_sum, token_kl_sum


class _Prompted:
    """A held-out row seen as a problem by :func:`continuations` (messages, prefill)."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row

    def messages(self) -> list[dict[str, str]]:
        return self.row["prompt"]

    def prefill(self) -> str:
        return self.row["prefill"]

    @property
    def answer(self) -> int:
        return int(self.row["answer"])


def accuracy_items(policy, tokenizer, heldout: Sequence[dict[str, Any]], max_new_tokens: int) -> list[dict]:
    """``[{"item", "source_id", "correct", "output"}]`` per held-out row, greedy."""
    prompted = [_Prompted(row) for row in heldout]
    texts = continuations(policy, tokenizer, prompted, max_new_tokens=max_new_tokens)
    return [
        {
            "item": index,
            "source_id": row["source_id"],
            "correct": int(is_correct(problem, outputs[0])),
            "output": outputs[0],
        }
        for index, (row, problem, outputs) in enumerate(zip(heldout, prompted, texts, strict=True))
    ]


def _padded(rows: list[dict[str, list[int]]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(row["input_ids"]) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    for index, row in enumerate(rows):
        n = len(row["input_ids"])
        ids[index, :n] = torch.tensor(row["input_ids"])
        labels[index, :n] = torch.tensor(row["labels"])
        attention[index, :n] = 1
    return ids, labels, attention


@torch.no_grad()
def response_items(
    policy,
    reference,
    tokenizer,
    rows: Sequence[tuple[list[dict[str, str]], str, str | None]],
    *,
    max_length: int,
    max_prompt_length: int | None,
    batch_size: int,
) -> list[dict[str, Any]]:
    """Per ``(prompt, response, source_id)``: ``{"item", "source_id", "kl", "nll", "ref_nll", "tokens"}``.

    A row whose response does not fit ``max_length`` is skipped (its ``item`` index is missing).
    """
    from plot_lightning.data.errors import RowProblem
    from plot_lightning.data.tokenize import ChatEncoder

    encoder = ChatEncoder(tokenizer, max_length, max_prompt_length)
    encoded = []
    for index, (prompt, response, source_id) in enumerate(rows):
        try:
            encoded.append((index, source_id, encoder.encode(prompt, response, "chosen")))
        except RowProblem:
            continue
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    states = policy.training, reference.training
    policy.eval()
    reference.eval()
    items = []
    try:
        for start in range(0, len(encoded), batch_size):
            chunk = encoded[start : start + batch_size]
            ids, labels, attention = _padded([row for _, _, row in chunk], pad_id)
            logits = policy(input_ids=ids, attention_mask=attention).logits[:, :-1].float()
            ref_logits = reference(input_ids=ids, attention_mask=attention).logits[:, :-1].float()
            targets, mask = labels[:, 1:].clamp(min=0), labels[:, 1:] != -100
            sums = {
                "kl": token_kl_sum(logits, ref_logits, mask),
                "nll": target_nll_sum(logits, targets, mask),
                "ref_nll": target_nll_sum(ref_logits, targets, mask),
                "tokens": masked_count(mask),
            }
            for row, (index, source_id, _) in enumerate(chunk):
                items.append(
                    {"item": index, "source_id": source_id, **{k: float(v[row]) for k, v in sums.items()}}
                )
    finally:
        policy.train(states[0])
        reference.train(states[1])
    return items


def measure(
    policy,
    reference,
    tokenizer,
    heldout: Sequence[dict[str, Any]],
    offtask: Sequence[dict[str, Any]],
    settings: dict[str, Any],
) -> dict[str, list[dict[str, Any]]]:
    """The three item sets of one policy (see the module docstring); ``settings``: the config's ``measure``."""
    lengths = {
        "max_length": settings["max_length"],
        "max_prompt_length": settings["max_prompt_length"],
        "batch_size": settings["batch_size"],
    }
    ontask_rows = [(row["prompt"], row["response"], row["source_id"]) for row in heldout][
        : settings["ontask_items"]
    ]
    offtask_rows = [(row["prompt"], row["chosen"], row.get("source_id")) for row in offtask]
    return {
        "accuracy": accuracy_items(policy, tokenizer, heldout, settings["max_new_tokens"]),
        "ontask": response_items(policy, reference, tokenizer, ontask_rows, **lengths),
        "offtask": response_items(policy, reference, tokenizer, offtask_rows, **lengths),
    }
