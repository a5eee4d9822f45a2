"""Where the next-token mass sits, before and after training, relative to the target token.

For the first ``n_prompts`` held-out pairs, at the first position of the chosen response (target ``y`` = its
first token), each model's distribution ``p`` is summarised by its top-``k`` tokens with their probability and
their cost ``C(v, y) = 1 - cos(e_v, e_y)`` to the target (PLOT's cosine ground cost, from the reference's
output embedding), plus ``p(y)`` and the expected cost ``W = sum_v p(v) C(v, y)`` (PLOT dirac's transport cost).
"Before" is the reference; each "after" is a trained policy. Works on any Hugging Face folders or checkpoints::

    python -m experiments diagnose --before BASE --after runs/x/export --after runs/y/export --pairs heldout.jsonl
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch

from experiments.distribution_math import cosine_cost_to
from plot_lightning.data.pair_batches import encode_pairs


def _first_response_positions(encoded) -> list[tuple[list[int], int]]:
    """``(prefix ids up to the first response token, that token)`` per encoded pair."""
    positions = []
    for _, chosen, _ in encoded:
        first = next(i for i, label in enumerate(chosen["labels"]) if label != -100)
        positions.append((chosen["input_ids"][:first], chosen["input_ids"][first]))
    return positions


@torch.no_grad()
def _next_token_probs(model, prefixes: list[list[int]]) -> list[torch.Tensor]:
    model.eval()
    out = []
    for prefix in prefixes:
        logits = model(input_ids=torch.tensor([prefix])).logits[0, -1].float()
        out.append(torch.softmax(logits, dim=-1))
    return out


def _summary(probs: torch.Tensor, cost: torch.Tensor, target: int, tokenizer, top_k: int) -> dict[str, Any]:
    top = torch.topk(probs, top_k)
    return {
        "target_prob": float(probs[target]),
        "expected_cost": float((probs * cost).sum()),
        "top": [
            {"token": tokenizer.decode([int(i)]), "id": int(i), "prob": float(p), "cost": float(cost[int(i)])}
            for p, i in zip(top.values, top.indices, strict=True)
        ],
    }


def diagnose_models(
    models: dict[str, Any], reference, tokenizer, records: list[dict[str, Any]], *,
    n_prompts: int = 4, top_k: int = 8, max_length: int = 512, max_prompt_length: int | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """One entry per prompt: ``{prompt, target, models: {"before" | label: summary}}``."""
    encoded = encode_pairs(records, tokenizer, max_length, max_prompt_length)[:n_prompts]
    positions = _first_response_positions(encoded)
    targets = torch.tensor([target for _, target in positions])
    embedding = reference.get_output_embeddings().weight.detach()
    costs = cosine_cost_to(embedding, targets)  # (P, V)
    prefixes = [prefix for prefix, _ in positions]
    per_model = {"before": _next_token_probs(reference, prefixes)}
    per_model |= {label: _next_token_probs(model, prefixes) for label, model in models.items()}
    entries = []
    for index, ((record, _, _), (_, target)) in enumerate(zip(encoded, positions, strict=True)):
        vocab = costs.shape[1]
        entries.append(
            {
                "prompt": record["prompt"][-1]["content"][:200],
                "target": tokenizer.decode([target]),
                "models": {
                    label: _summary(probs[index][:vocab], costs[index], target, tokenizer, top_k)
                    for label, probs in per_model.items()
                },
            }
        )
    return entries


def model_source(spec: str, scratch: Path) -> str:
    """What ``load_causal_lm``/``load_tokenizer`` take for ``spec``: a training checkpoint (``.ckpt`` file or
    sharded folder) is exported to ``scratch`` first; Hugging Face folders and model specs pass through."""
    path = Path(spec)
    if path.suffix == ".ckpt" or (path.is_dir() and not (path / "config.json").is_file()):
        from plot_lightning.export import export_checkpoint

        target = Path(tempfile.mkdtemp(prefix=f"{path.stem}-", dir=scratch)) / "export"
        export_checkpoint(path, target)  # a fresh folder each: two checkpoints may both be called last.ckpt
        return str(target)
    return spec
