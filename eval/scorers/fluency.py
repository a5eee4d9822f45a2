"""Fluency of responses: perplexity under a fixed scorer LM, distinct-2 and repetition rate.

perplexity = exp(-(1/|R|) sum_{t in R} log p(y_t | prompt, y_<t)) over the response tokens R only, the prompt
rendered with the scorer's chat template (user turn + generation prompt) as context; log-probs in fp32.
It is None for an empty response (no token to score).

distinct_2 = |unique word bigrams| / |word bigrams| (Li et al. 2016), 0.0 when the response has < 2 words.
repetition_rate = 1 - |unique word 4-grams| / |word 4-grams| (seq-rep-4, Welleck et al. 2020): the share of
4-grams that repeat an earlier 4-gram of the same response; 0.0 when it has < 4 words. Words are lower-cased
``\\w+`` runs and single punctuation marks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from plot_eval.judges.base import ScorerLMSettings
from plot_eval.judges.non_answer import distinct_n, repetition_rate
from plot_eval.registry import SCORERS


@dataclass
class FluencySettings(ScorerLMSettings):
    max_length: int = 1024
    """Tokens of prompt + response: the prompt is left-truncated to fit, a longer response cut at the end."""


@SCORERS.register("fluency", settings=FluencySettings)
class FluencyScorer:
    """``score(prompts, responses) -> [{"perplexity", "distinct_2", "repetition_rate"}]`` under the scorer LM
    of the settings, shared through the context's model pool and loaded on first use."""

    batch_size = 8

    def __init__(self, settings: FluencySettings, context):
        self.settings = settings
        self.handle = context.lm(settings.model)

    def identity(self) -> dict:
        return {"model": self.handle.fingerprint, "max_length": self.settings.max_length, "ngrams": "v1"}

    @property
    def model(self):
        return self.handle.pair[0]

    @property
    def tokenizer(self):
        return self.handle.pair[1]

    def _encode(self, prompt: str, response: str) -> tuple[list[int], int]:
        """(token ids, number of prompt tokens) for one pair, prompt left-truncated to fit."""
        if getattr(self.tokenizer, "chat_template", None):
            messages = [{"role": "user", "content": prompt}]
            context = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        else:
            context = prompt + "\n"
        prompt_ids = self.tokenizer(context, add_special_tokens=False)["input_ids"]
        limit = self.settings.max_length
        response_ids = self.tokenizer(response, add_special_tokens=False)["input_ids"][: limit - 1]
        prompt_ids = prompt_ids[-(limit - len(response_ids)) :]
        return prompt_ids + response_ids, len(prompt_ids)

    @torch.no_grad()
    def _batch_perplexity(self, pairs: list[tuple[list[int], int]]) -> list[float | None]:
        width = max(len(ids) for ids, _ in pairs)
        input_ids = torch.zeros((len(pairs), width), dtype=torch.long)  # right padded; padding is masked
        attention_mask = torch.zeros_like(input_ids)
        response_mask = torch.zeros_like(input_ids, dtype=torch.bool)
        for row, (ids, n_prompt) in enumerate(pairs):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention_mask[row, : len(ids)] = 1
            response_mask[row, n_prompt : len(ids)] = True
        device = next(self.model.parameters()).device
        logits = self.model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device)).logits
        mask = response_mask[:, 1:]  # (B, T-1): position t predicts token t+1
        predicted = logits[:, :-1][mask.to(device)].float()  # (N, V) fp32, response positions only
        targets = input_ids[:, 1:][mask].to(device)  # (N,)
        token_logps = predicted.gather(-1, targets[:, None]).squeeze(-1) - predicted.logsumexp(-1)  # (N,)
        rows = mask.nonzero()[:, 0].to(device)  # (N,) batch row of each response token
        total_nll = torch.zeros(len(pairs), device=device).index_add_(0, rows, -token_logps).cpu()
        counts = mask.sum(-1)
        return [
            math.exp(float(nll) / int(c)) if int(c) > 0 else None
            for nll, c in zip(total_nll, counts, strict=True)
        ]

    def perplexity(self, prompts: list[str], responses: list[str]) -> list[float | None]:
        """Per-response perplexity given its prompt (None for an empty response)."""
        if len(prompts) != len(responses):
            raise ValueError(
                f"prompts ({len(prompts)}) and responses ({len(responses)}) must have the same length"
            )
        pairs = [self._encode(p, r) for p, r in zip(prompts, responses, strict=True)]
        result: list[float | None] = []
        for start in range(0, len(pairs), self.batch_size):
            result.extend(self._batch_perplexity(pairs[start : start + self.batch_size]))
        return result

    def score(self, prompts: list[str], responses: list[str]) -> list[dict]:
        """One dict per response: perplexity (float | None), distinct_2, repetition_rate (floats in [0, 1])."""
        perplexities = self.perplexity(prompts, responses)
        return [
            {
                "perplexity": ppl,
                "distinct_2": distinct_n(text, 2),
                "repetition_rate": repetition_rate(text, 4),
            }
            for ppl, text in zip(perplexities, responses, strict=True)
        ]
