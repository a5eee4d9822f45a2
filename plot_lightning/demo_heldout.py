"""What the demo's training changed that can be seen at its size: preference accuracy and margins on the
demo's validation pairs, before (the base model) and after (the trained export).

For each pair, ``m = log pi(chosen) - log pi(rejected)`` (summed response log-probs, fp32):

- preference accuracy: the share of pairs with ``m > 0``, before and after;
- log-prob margin: the mean of ``m``, before and after;
- implicit reward margin: ``beta (m_after - m_before)``, DPO's reward margin of the trained policy against
  its reference (0 before training by definition), with the share of pairs where it is positive.

With a handful of pairs these move by chance as much as by training: the table says so and gives ``n``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import yaml


@torch.no_grad()
def pair_margins(model, tokenizer, records, max_length: int, max_prompt_length: int | None) -> torch.Tensor:
    """``(n,)`` fp32 ``log pi(chosen) - log pi(rejected)`` of the pairs in ``records`` that fit ``max_length``."""
    from plot_lightning.data.pair_batches import collate_pairs, encode_pairs
    from plot_lightning.forward import align_batch, causal_logits
    from plot_lightning.losses.logprobs import sequence_logps

    encoded = encode_pairs(records, tokenizer, max_length, max_prompt_length)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    margins = []
    for start in range(0, len(encoded), 2):  # 2 pairs = 4 sequences per forward, the demo's batch
        aligned = align_batch(collate_pairs(encoded[start : start + 2], pad_id))
        logps = sequence_logps(causal_logits(model.eval(), aligned).float(), aligned.targets, aligned.mask)
        half = logps.shape[0] // 2
        margins.append(logps[:half] - logps[half:])
    return torch.cat(margins) if margins else torch.zeros(0)


def heldout_change(base: Path, export: Path, config_path: Path) -> dict[str, Any]:
    """Before/after margins on the validation pairs of the resolved demo ``config.yaml``."""
    from plot_lightning.data.pair_batches import load_pair_records
    from plot_lightning.models.loading import load_causal_lm, load_tokenizer

    config = yaml.safe_load(config_path.read_text())
    data, trainer, model = config["data"], config["trainer"], config["model"]
    count = int(trainer.get("limit_val_batches") or 0) * int(data["batch_size"])
    val_files = data["val_files"] if isinstance(data["val_files"], list) else [data["val_files"]]
    records = load_pair_records(val_files, count)
    lengths = (int(data["max_length"]), data.get("max_prompt_length"))
    tokenizer = load_tokenizer(str(base))
    before = pair_margins(load_causal_lm(str(base)), tokenizer, records, *lengths)
    after = pair_margins(load_causal_lm(str(export)), tokenizer, records, *lengths)
    return {"before": before, "after": after, "beta": float(model.get("metrics_beta") or 0.1)}


def change_table(change: dict[str, Any]) -> str:
    """The demo's closing table (plain text)."""
    before, after, beta = change["before"], change["after"], change["beta"]
    n = before.shape[0]
    if not n:
        return "held-out change: no validation pair fits max_length"
    reward = beta * (after - before)

    def share(values: torch.Tensor) -> str:
        return f"{float((values > 0).float().mean()):.3f} ({int((values > 0).sum())}/{n})"

    rows = [
        f"held-out change on the demo's validation pairs (n = {n}; summed response log-probs):",
        f"  {'':52} {'before (base)':>16} {'after (trained)':>16}",
        f"  {'preference accuracy, logp(chosen) > logp(rejected)':52} {share(before):>16} {share(after):>16}",
        f"  {'log-prob margin, mean nats':52} {float(before.mean()):>16.3f} {float(after.mean()):>16.3f}",
        f"  {f'implicit reward margin (beta {beta:g}), mean':52} {'0 (definition)':>16} "
        f"{float(reward.mean()):>+16.4f}",
        f"  {'pairs with a positive reward margin':52} {'-':>16} {share(reward):>16}",
        f"  n = {n} pairs: differences this small are within chance; this shows the pipeline trains, not that "
        "PLOT helps (README 'Does PLOT help?').",
    ]
    return "\n".join(rows)
