"""Batched response generation for chat prompts.

Prompts are chat message lists rendered with the tokenizer's chat template (``add_generation_prompt``),
sorted by token length so each batch holds similar lengths (little padding), LEFT padded so every row's
last prompt token sits at the same position, and decoded with the KV cache. Responses come back in the
input order. Greedy decoding gives the same text batched or one at a time; sampling is reproducible for a
given seed (each batch is seeded from ``seed`` and its position in the length-sorted order).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import torch
from transformers import GenerationConfig

from plot_eval.progress import Progress

Messages = list[dict]


def prompt_token_ids(tokenizer, messages: Messages) -> list[int]:
    """Token ids of ``messages`` rendered with the chat template plus the assistant generation prompt.

    Tokenizers without a chat template fall back to the message contents joined by blank lines (with a
    warning), which suits base models evaluated on plain-text prompts.
    """
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise ValueError(
            f"prompts: each prompt must be a list of chat messages (dicts), got {type(messages)}"
        )
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return tokenizer(text, add_special_tokens=False)["input_ids"]
    warnings.warn("tokenizer has no chat template; joining message contents as plain text", stacklevel=2)
    text = "\n\n".join(m["content"] for m in messages) + "\n\n"
    return tokenizer(text)["input_ids"]


def left_pad(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pad token id lists: returns ``input_ids (N, T) long`` and ``attention_mask (N, T) long``
    (0 on padding, which sits at the START of each row), T = longest sequence."""
    if not sequences or any(len(s) == 0 for s in sequences):
        raise ValueError("sequences: need at least one sequence and no empty sequence")
    width = max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        input_ids[row, width - len(seq) :] = torch.as_tensor(list(seq), dtype=torch.long)
        attention_mask[row, width - len(seq) :] = 1
    return input_ids, attention_mask


def _eos_ids(model, tokenizer) -> list[int]:
    ids = set()
    for source in (tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)):
        if isinstance(source, int):
            ids.add(source)
        elif source is not None:
            ids.update(source)
    if not ids:
        raise ValueError("tokenizer: no eos_token_id (and none in the model's generation config)")
    return sorted(ids)


def _generation_config(
    model, tokenizer, *, max_new_tokens, do_sample, temperature, top_p
) -> GenerationConfig:
    eos_ids = _eos_ids(model, tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos_ids[0]
    settings = dict(max_new_tokens=max_new_tokens, do_sample=do_sample, use_cache=True)
    if do_sample:
        settings.update(temperature=temperature, top_p=top_p, top_k=0)
    return GenerationConfig(**settings, eos_token_id=eos_ids, pad_token_id=pad_id)


def _decode_new_tokens(tokenizer, new_tokens: torch.Tensor, eos_ids: list[int]) -> list[str]:
    """Decode ``new_tokens (B, L)``, cutting each row at its first EOS (padding after EOS is dropped)."""
    texts = []
    for row in new_tokens.tolist():
        cut = next((i for i, token in enumerate(row) if token in eos_ids), len(row))
        texts.append(tokenizer.decode(row[:cut], skip_special_tokens=True).strip())
    return texts


@torch.no_grad()
def _generate_batch(model, input_ids, attention_mask, config: GenerationConfig, seed: int | None):
    device = next(model.parameters()).device
    with torch.random.fork_rng(devices=[] if device.type == "cpu" else [device]):
        if seed is not None:
            torch.manual_seed(seed)
        output = model.generate(
            input_ids=input_ids.to(device), attention_mask=attention_mask.to(device), generation_config=config
        )
    return output[:, input_ids.shape[1] :].cpu()  # (B, new_tokens): only what the model wrote


def generate(
    model,
    tokenizer,
    prompts: list[Messages],
    *,
    max_new_tokens: int = 128,
    batch_size: int = 8,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int = 0,
    progress: bool = True,
    progress_label: str = "",
    on_result: Callable[[int, str], None] | None = None,
) -> list[str]:
    """One response per chat prompt, in the order of ``prompts``; ``on_result(i, text)`` is called as soon as
    prompt i's batch finishes, so callers can cache results before the run ends."""
    if batch_size < 1 or max_new_tokens < 1:
        raise ValueError(f"batch_size ({batch_size}) and max_new_tokens ({max_new_tokens}) must be >= 1")
    encoded = [prompt_token_ids(tokenizer, messages) for messages in prompts]
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))  # longest first: OOM shows early
    config = _generation_config(
        model,
        tokenizer,
        max_new_tokens=max_new_tokens,
        do_sample=do_sample,
        temperature=temperature,
        top_p=top_p,
    )
    was_training = model.training
    model.eval()
    responses: list[str | None] = [None] * len(prompts)
    with Progress("generate", len(prompts), progress_label, enabled=progress) as bar:
        for start in range(0, len(order), batch_size):
            indices = order[start : start + batch_size]
            input_ids, attention_mask = left_pad([encoded[i] for i in indices], config.pad_token_id)
            batch_seed = seed + start if do_sample else None
            new_tokens = _generate_batch(model, input_ids, attention_mask, config, batch_seed)
            for index, text in zip(
                indices, _decode_new_tokens(tokenizer, new_tokens, config.eos_token_id), strict=True
            ):
                responses[index] = text
                if on_result is not None:
                    on_result(index, text)
            bar.update(len(indices))
    model.train(was_training)
    return responses
