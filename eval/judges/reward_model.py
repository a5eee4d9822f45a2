"""Pairwise judge from a reward model (a Hugging Face sequence classifier with one output).

The reward r(prompt, response) is the classifier's scalar logit for the conversation rendered with the
reward model's chat template (user prompt, assistant response), or "prompt\\n\\nresponse" without one.
Under the Bradley-Terry model, P(A better) = sigmoid(r_A - r_B), computed in fp32.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from plot_eval.judges.base import Judge
from plot_eval.registry import JUDGES


@dataclass
class RewardModelSettings:
    model: str = ""
    """HF folder of a sequence classifier with one output (required)."""
    max_length: int = 2048
    """Tokens of the conversation read, counted from its end."""

    def validate(self) -> None:
        if not self.model:
            raise ValueError("'model' is required (a reward-model folder)")


@JUDGES.register("reward_model", settings=RewardModelSettings, metrics=("winrate",))
class RewardModelJudge(Judge):
    """``compare(prompt, a, b) = sigmoid(r(prompt, a) - r(prompt, b))`` with the classifier of the settings,
    loaded on first use."""

    def identity(self) -> dict:
        from plot_eval.models.fingerprint import model_fingerprint

        return {"model": model_fingerprint(self.settings.model), "max_length": self.settings.max_length}

    @functools.cached_property
    def _classifier(self):
        folder = str(self.settings.model)
        model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=torch.float32).eval()
        if model.config.num_labels != 1:
            raise ValueError(
                f"model: a reward model has one output, got num_labels={model.config.num_labels}"
            )
        return model, AutoTokenizer.from_pretrained(folder)

    def _text(self, prompt: str, response: str) -> str:
        tokenizer = self._classifier[1]
        if getattr(tokenizer, "chat_template", None):
            messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
            return tokenizer.apply_chat_template(messages, tokenize=False)
        return f"{prompt}\n\n{response}"

    @torch.no_grad()
    def reward(self, prompt: str, response: str) -> float:
        """Scalar reward of one (prompt, response), fp32 (left-truncated to ``max_length`` tokens)."""
        model, tokenizer = self._classifier
        ids = tokenizer(self._text(prompt, response), add_special_tokens=False)["input_ids"]
        input_ids = torch.tensor([ids[-self.settings.max_length :]])  # (1, T): keep the response end
        device = next(model.parameters()).device
        return float(model(input_ids=input_ids.to(device)).logits[0, 0].float())

    def compare(self, prompt: str, response_a: str, response_b: str) -> float:
        """P(A better) = sigmoid(r_A - r_B)."""
        difference = torch.tensor(self.reward(prompt, response_a) - self.reward(prompt, response_b))
        return float(torch.sigmoid(difference))
