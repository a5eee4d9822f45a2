"""Pairwise judge from a reward model (a Hugging Face sequence classifier with one output).

The reward r(prompt, response) is the classifier's scalar logit for the conversation rendered with the
reward model's chat template (user prompt, assistant response), or "prompt\\n\\nresponse" without one.
Under the Bradley-Terry model, P(A better) = sigmoid(r_A - r_B), computed in fp32.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from plot_eval.judges.base import Judge
from plot_eval.registry import JUDGES


class RewardModelJudge:
    """``compare(prompt, a, b) = sigmoid(r(prompt, a) - r(prompt, b))``; ``path``: a HF folder of a sequence
    classifier with ``num_labels == 1``."""

    def __init__(self, path: str | os.PathLike, *, max_length: int = 2048):
        self.model = AutoModelForSequenceClassification.from_pretrained(str(path), dtype=torch.float32)
        if self.model.config.num_labels != 1:
            raise ValueError(
                f"path: a reward model has one output, got num_labels={self.model.config.num_labels}"
            )
        self.model.eval()
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.max_length = max_length

    def _text(self, prompt: str, response: str) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
            return self.tokenizer.apply_chat_template(messages, tokenize=False)
        return f"{prompt}\n\n{response}"

    @torch.no_grad()
    def reward(self, prompt: str, response: str) -> float:
        """Scalar reward of one (prompt, response), fp32 (left-truncated to ``max_length`` tokens)."""
        ids = self.tokenizer(self._text(prompt, response), add_special_tokens=False)["input_ids"]
        input_ids = torch.tensor([ids[-self.max_length :]])  # (1, T): keep the response end
        device = next(self.model.parameters()).device
        return float(self.model(input_ids=input_ids.to(device)).logits[0, 0].float())

    def compare(self, prompt: str, response_a: str, response_b: str) -> float:
        """P(A better) = sigmoid(r_A - r_B)."""
        difference = torch.tensor(self.reward(prompt, response_a) - self.reward(prompt, response_b))
        return float(torch.sigmoid(difference))


@dataclass
class RewardModelSettings:
    model: str = ""
    """HF folder of a sequence classifier with one output (required)."""
    max_length: int = 2048

    def validate(self) -> None:
        if not self.model:
            raise ValueError("'model' is required (a reward-model folder)")


@JUDGES.register("reward_model", settings=RewardModelSettings, metrics=("winrate",))
class RewardModelVerdicts(Judge):
    """Registered pairwise judge: `RewardModelJudge` on the folder in the settings, loaded on first use."""

    def identity(self) -> dict:
        from plot_eval.models.fingerprint import model_fingerprint

        return {"model": model_fingerprint(self.settings.model), "max_length": self.settings.max_length}

    def compare(self, prompt: str, response_a: str, response_b: str) -> float:
        if not hasattr(self, "_judge"):
            self._judge = RewardModelJudge(self.settings.model, max_length=self.settings.max_length)
        return self._judge.compare(prompt, response_a, response_b)
