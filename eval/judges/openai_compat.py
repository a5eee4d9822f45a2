"""Pairwise judge through any OpenAI-compatible chat endpoint (OpenAI, vLLM, llama.cpp server, ...).

Greedy chat completions through the shared client (eval/models/chat_client.py). The reply must carry exactly
one MT-Bench verdict tag (eval/judges/prompt.py); anything else is an invalid verdict (None), never a win."""

from __future__ import annotations

from dataclasses import dataclass

from plot_eval.judges.base import Judge
from plot_eval.judges.prompt import (
    VERDICT_FORMAT_VERSION,
    VERDICT_INSTRUCTION,
    parse_verdict,
    verdict_messages,
)
from plot_eval.models.chat_client import ChatClient, EndpointUnavailableError
from plot_eval.registry import JUDGES

NEEDS_ENDPOINT = "needs 'url' and 'model' (the served model name)"


class JudgeUnavailableError(EndpointUnavailableError):
    """The judge endpoint could not answer (unreachable, or still failing after all retries)."""


class OpenAIJudge(ChatClient):
    """``compare(prompt, a, b)`` asks the endpoint for an MT-Bench verdict (``[[A]]``, ``[[B]]``, ``[[C]]``).

    Arguments as `ChatClient` (its ``role`` is "judge" here), plus max_tokens: room for a short explanation
    before the verdict tag. Greedy (temperature 0).
    """

    error_type = JudgeUnavailableError

    def __init__(self, *args, max_tokens: int = 512, **kwargs):
        super().__init__(*args, **{**kwargs, "role": "judge"})
        self.max_tokens = max_tokens

    def chat(self, messages: list[dict]) -> str:
        """The assistant text of one greedy chat completion, with retries; raises JudgeUnavailableError."""
        return self.complete(messages, temperature=0, max_tokens=self.max_tokens)

    def compare(self, prompt: str, response_a: str, response_b: str) -> float | None:
        """P(A better) from the verdict tag: 1.0, 0.0, 0.5 (tie), or None when the reply has no valid tag."""
        return parse_verdict(self.chat(verdict_messages(prompt, response_a, response_b)))


@dataclass
class OpenAISettings:
    url: str | None = None
    """Base URL of an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 (required to judge)."""
    model: str | None = None
    """The served model name (required to judge)."""
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = 60.0
    retries: int = 3
    rate_limit: float | None = None
    """Maximum requests per second."""
    max_tokens: int = 512
    """Room for a short explanation before the verdict tag."""

    def client(self) -> OpenAIJudge:
        """The client on these settings (the `openai` judge's, and the rubric judges' `openai` backend)."""
        limits = (self.timeout_s, self.retries, self.rate_limit)
        return OpenAIJudge(self.url, self.model, self.api_key_env, *limits, max_tokens=self.max_tokens)


@JUDGES.register("openai", settings=OpenAISettings, metrics=("winrate",))
class OpenAIVerdicts(Judge):
    """Registered pairwise judge: `OpenAIJudge` on the endpoint and model in the settings."""

    def identity(self) -> dict:
        s = self.settings
        if not s.url or not s.model:  # not checked with the settings: the CLI may give url and model
            raise ValueError(f"judges.openai: {NEEDS_ENDPOINT}")
        return {
            "endpoint": s.url.rstrip("/"),
            "model": s.model,
            "prompt": VERDICT_INSTRUCTION,
            "format": VERDICT_FORMAT_VERSION,
            "decoding": {"temperature": 0, "max_tokens": s.max_tokens},
        }

    def compare(self, prompt: str, response_a: str, response_b: str) -> float | None:
        if not hasattr(self, "_judge"):
            self._judge = self.settings.client()
        return self._judge.compare(prompt, response_a, response_b)
