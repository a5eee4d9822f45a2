"""Pairwise judge from a local Hugging Face causal LM, without generating: P(A better) = sigmoid(z_A - z_B)
from the judge's fp32 next-token logits of "A" and "B" after the judging prompt (eval/judges/prompt.py), so
the verdict is deterministic and never unparseable."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from plot_eval.generation.batched import prompt_token_ids
from plot_eval.judges.base import Judge, ScorerLMSettings
from plot_eval.judges.prompt import JUDGE_INSTRUCTION, judge_messages
from plot_eval.registry import JUDGES


def _single_token_id(tokenizer, text: str) -> int:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise ValueError(f"tokenizer: verdict {text!r} must be a single token, got ids {ids}")
    return ids[0]


@dataclass
class LocalLMSettings(ScorerLMSettings):
    max_response_tokens: int = 512
    """Each response is cut to this many tokens, so the judging prompt fits the judge's context."""


@JUDGES.register("local_lm", settings=LocalLMSettings, metrics=("winrate",))
class LocalLMJudge(Judge):
    """``compare(prompt, a, b) -> P(A better)`` from the verdict-token logits of the LM of the settings,
    shared through the context's model pool and loaded on first use."""

    def identity(self) -> dict:
        return {
            "model": self.context.lm(self.settings.model).fingerprint,
            "prompt": JUDGE_INSTRUCTION,
            "verdict": "logits of A vs B",
            "max_response_tokens": self.settings.max_response_tokens,
        }

    @property
    def model(self):
        return self.context.lm(self.settings.model).pair[0]

    @property
    def tokenizer(self):
        return self.context.lm(self.settings.model).pair[1]

    @functools.cached_property
    def verdict_ids(self) -> tuple[int, int]:
        return _single_token_id(self.tokenizer, "A"), _single_token_id(self.tokenizer, "B")

    def _truncate(self, text: str) -> str:
        limit = self.settings.max_response_tokens
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return text if len(ids) <= limit else self.tokenizer.decode(ids[:limit]) + " [...]"

    @torch.no_grad()
    def verdict_logits(self, prompt: str, response_a: str, response_b: str) -> torch.Tensor:
        """fp32 logits ``(2,)`` of the tokens "A" and "B" as the judge's next token."""
        messages = judge_messages(prompt, self._truncate(response_a), self._truncate(response_b))
        input_ids = torch.tensor([prompt_token_ids(self.tokenizer, messages)])  # (1, T)
        device = next(self.model.parameters()).device
        logits = self.model(input_ids=input_ids.to(device)).logits[0, -1]  # (V,) next-token logits
        return logits[list(self.verdict_ids)].float().cpu()

    def compare(self, prompt: str, response_a: str, response_b: str) -> float:
        """P(``response_a`` better) = softmax over the two verdict logits, taken at "A"."""
        logits = self.verdict_logits(prompt, response_a, response_b)
        return float(torch.softmax(logits, dim=0)[0])
