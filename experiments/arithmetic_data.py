"""Generation for the arithmetic task: greedy accuracy per item, and on-policy preference pairs.

``continuations`` renders each problem with the tokenizer's chat template (the generation prompt, then the
restated problem of :meth:`Problem.prefill`) and returns the decoded new tokens. ``greedy_correct`` scores
greedy continuations by exact match. ``onpolicy_pairs`` samples several continuations per training prompt from
the model (temperature 1 by default: the model's own distribution) and pairs a correct sample (chosen) with a
wrong one (rejected) for the same prompt; a prompt with no correct or no wrong sample gives no pair. Sampling
is seeded per batch, so the same seed, model and problems give the same pairs.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import torch

from experiments.arithmetic_task import Problem, is_correct, parse_answer


def _encode(tokenizer, texts: list[str]) -> dict[str, torch.Tensor]:
    """Left-padded ids, with the BOS the training encoder adds when the tokenizer adds one itself."""
    bos = tokenizer.bos_token_id
    adds_bos = bos is not None and tokenizer("a")["input_ids"][:1] == [bos]
    rows = []
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        rows.append([bos, *ids] if adds_bos and ids[:1] != [bos] else ids)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for index, row in enumerate(rows):
        input_ids[index, width - len(row) :] = torch.tensor(row)
        attention_mask[index, width - len(row) :] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


@torch.no_grad()
def continuations(
    model,
    tokenizer,
    problems: Sequence[Problem],
    *,
    samples: int = 1,
    temperature: float = 0.0,
    max_new_tokens: int = 6,
    seed: int = 0,
    batch_size: int = 32,
) -> list[list[str]]:
    """``samples`` decoded continuations per problem (greedy when ``temperature`` is 0)."""
    was_training = model.training
    model.eval()
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    sampling = (
        {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0}
        if temperature > 0
        else {"do_sample": False}
    )
    out: list[list[str]] = []
    try:
        for start in range(0, len(problems), batch_size):
            batch = problems[start : start + batch_size]
            texts = [
                tokenizer.apply_chat_template(p.messages(), tokenize=False, add_generation_prompt=True)
                + p.prefill()
                for p in batch
            ]
            encoded = _encode(tokenizer, texts)
            torch.manual_seed(seed * 1_000_003 + start)
            generated = model.generate(
                **encoded,
                max_new_tokens=max_new_tokens,
                num_return_sequences=samples,
                pad_token_id=pad,
                **sampling,
            )
            new = generated[:, encoded["input_ids"].shape[1] :]
            decoded = tokenizer.batch_decode(new, skip_special_tokens=True)
            out.extend(decoded[i * samples : (i + 1) * samples] for i in range(len(batch)))
    finally:
        model.train(was_training)
    return out


def greedy_correct(model, tokenizer, problems: Sequence[Problem], **options: Any) -> list[bool]:
    """Per problem: does the greedy continuation start with the exact answer?"""
    return [
        is_correct(p, texts[0])
        for p, texts in zip(problems, continuations(model, tokenizer, problems, **options), strict=True)
    ]


def pair_from_samples(
    problem: Problem, texts: Sequence[str], rng: random.Random, gold_chosen: bool = False
) -> tuple[dict[str, Any] | None, str]:
    """``(pair, outcome)``: a correct sample against a wrong numeric one, drawn with ``rng``; outcome says why not.

    Unparseable samples are neither correct nor wrong. The chosen and rejected responses are written in the
    canonical form (prefill + number), so a pair differs only in its answer tokens. With ``gold_chosen``, a
    prompt with wrong samples but no correct one is paired with the exact answer as chosen (outcome
    ``gold_pairs``): off-policy on the chosen side, for models that rarely sample the answer.
    """
    answers = [parse_answer(text) for text in texts]
    wrong = sorted({a for a in answers if a is not None and a != problem.answer})
    if problem.answer not in answers and not (gold_chosen and wrong):
        return None, "no_correct_sample"
    if not wrong:
        return None, "no_wrong_sample"
    pair = {
        "prompt": problem.messages(),
        "chosen": problem.response(problem.answer),
        "rejected": problem.response(rng.choice(wrong)),
        "subpreference": "math",
        "source": f"arithmetic/{problem.operation}",
        "source_id": problem.key,
    }
    return pair, "pairs" if problem.answer in answers else "gold_pairs"


def onpolicy_pairs(
    model,
    tokenizer,
    problems: Sequence[Problem],
    *,
    samples: int,
    seed: int,
    temperature: float = 1.0,
    gold_chosen: bool = False,
    **options,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Pairs from the model's own samples (:func:`pair_from_samples`), and counts per outcome."""
    drawn = continuations(
        model, tokenizer, problems, samples=samples, temperature=temperature, seed=seed, **options
    )
    rng = random.Random(seed)
    counts = dict.fromkeys(("pairs", "gold_pairs", "no_correct_sample", "no_wrong_sample"), 0)
    pairs, counts = [], {"prompts": len(problems), **counts}
    for problem, texts in zip(problems, drawn, strict=True):
        pair, outcome = pair_from_samples(problem, texts, rng, gold_chosen)
        counts[outcome] += 1
        if pair is not None:
            pairs.append(pair)
    return pairs, counts
