"""Judge-free measurements of a trained policy against its reference on held-out pairs, per subpreference.

- ``pref_accuracy``: share of pairs with a positive implicit-reward margin, ``r = beta (log pi - log ref)``
  summed over response tokens, margin ``r(chosen) - r(rejected)``; ``reward_margin``: its mean.
- ``kl_per_token``: mean over chosen-response tokens of ``KL(policy || reference)`` (exact, whole vocabulary).
- ``entropy``: mean next-token entropy of the policy on those tokens; ``entropy_change``: minus the reference's.
- ``chosen_ppl``: per-token perplexity of the chosen responses under the policy; ``chosen_ppl_change``: minus
  the reference's perplexity (negative: the policy finds the preferred responses more likely).

The group ``all`` pools every pair. ``heldout_items`` gives the per-pair sums these metrics are built from
(one dict per pair that fits, in record order), so every interval can be recomputed over items; the
metrics are :func:`summarize` of them. Rows are tokenized with the training data settings (chat template,
``max_length``, ``max_prompt_length``). Logits and log-probs are fp32.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import torch

from experiments.distribution_math import (
    masked_count,
    target_nll_sum,
    token_entropy_sum,
    token_kl_sum,
)
from plot_lightning.data.pair_batches import collate_pairs, encode_pairs

SUMS = ("pairs", "correct", "margin", "tokens", "kl", "entropy", "ref_entropy", "nll", "ref_nll")


@torch.no_grad()
def _batch_sums(policy, reference, batch, beta: float) -> dict[str, torch.Tensor]:
    from plot_lightning.forward import align_batch, causal_logits
    from plot_lightning.losses.logprobs import sequence_logps

    aligned = align_batch(batch)
    logits, ref_logits = causal_logits(policy, aligned).float(), causal_logits(reference, aligned).float()
    half = logits.shape[0] // 2
    rewards = beta * (
        sequence_logps(logits, aligned.targets, aligned.mask)
        - sequence_logps(ref_logits, aligned.targets, aligned.mask)
    )
    margin = rewards[:half] - rewards[half:]
    chosen = slice(0, half)
    mask, targets = aligned.mask[chosen], aligned.targets[chosen]
    return {
        "pairs": torch.ones(half), "correct": (margin > 0).float(), "margin": margin,
        "tokens": masked_count(mask),
        "kl": token_kl_sum(logits[chosen], ref_logits[chosen], mask),
        "entropy": token_entropy_sum(logits[chosen], mask),
        "ref_entropy": token_entropy_sum(ref_logits[chosen], mask),
        "nll": target_nll_sum(logits[chosen], targets, mask),
        "ref_nll": target_nll_sum(ref_logits[chosen], targets, mask),
    }  # fmt: skip


def _finish(sums: dict[str, float]) -> dict[str, float]:
    tokens, pairs = max(sums["tokens"], 1.0), max(sums["pairs"], 1.0)
    ppl, ref_ppl = math.exp(sums["nll"] / tokens), math.exp(sums["ref_nll"] / tokens)
    return {
        "pref_accuracy": sums["correct"] / pairs,
        "reward_margin": sums["margin"] / pairs,
        "kl_per_token": sums["kl"] / tokens,
        "entropy": sums["entropy"] / tokens,
        "entropy_change": (sums["entropy"] - sums["ref_entropy"]) / tokens,
        "chosen_ppl": ppl,
        "chosen_ppl_change": ppl - ref_ppl,
        "n_pairs": sums["pairs"],
    }


def heldout_items(policy, reference, tokenizer, records, *, beta: float, batch_size: int, max_length: int,
                  max_prompt_length: int | None) -> list[dict[str, Any]]:  # fmt: skip
    """Per pair that fits: ``{"item", "source_id", "subpreference", <SUMS>}`` (item: its index in ``records``)."""
    policy.eval()
    reference.eval()
    positions = {id(record): index for index, record in enumerate(records)}
    encoded = encode_pairs(records, tokenizer, max_length, max_prompt_length)
    if not encoded:
        raise ValueError("no held-out pair fits max_length: nothing to measure")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    items = []
    for start in range(0, len(encoded), batch_size):
        chunk = encoded[start : start + batch_size]
        sums = _batch_sums(policy, reference, collate_pairs(chunk, pad_id), beta)
        for row, (record, _, _) in enumerate(chunk):
            items.append(
                {
                    "item": positions[id(record)],
                    "source_id": record.get("source_id"),
                    "subpreference": record.get("subpreference") or "none",
                    **{key: float(sums[key][row]) for key in SUMS},
                }
            )
    return items


def summarize(items: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """``{subpreference | "all": {metric: value}}`` pooled from per-pair sums."""
    totals: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(SUMS, 0.0))
    for item in items:
        for group in ("all", item["subpreference"]):
            for key in SUMS:
                totals[group][key] += item[key]
    return {group: _finish(values) for group, values in sorted(totals.items())}


def heldout_metrics(policy, reference, tokenizer, records, **settings: Any) -> dict[str, dict[str, float]]:
    """``{subpreference | "all": {metric: value}}`` over ``records`` (normalised preference rows)."""
    return summarize(heldout_items(policy, reference, tokenizer, records, **settings))
