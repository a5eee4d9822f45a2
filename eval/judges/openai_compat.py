"""Pairwise judge through any OpenAI-compatible chat endpoint (OpenAI, vLLM, llama.cpp server, ...).

``POST {url}/chat/completions`` with ``{"model", "messages", "temperature": 0, "max_tokens"}``; the API key
is read from the environment variable named by ``api_key_env`` (never passed in code or config). The reply
text must carry exactly one MT-Bench verdict tag (eval/judges/prompt.py): ``[[A]]`` -> 1.0, ``[[B]]`` -> 0.0,
``[[C]]`` (tie) -> 0.5; anything else is an invalid verdict (None), counted and reported, never a win.
Connection errors, timeouts, 429 and 5xx are retried with exponential backoff (honouring Retry-After); other
4xx fail at once. Requests are spaced by a client-side rate limit shared by all threads using the judge.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from plot_eval.judges.base import Judge
from plot_eval.judges.prompt import (
    VERDICT_FORMAT_VERSION,
    VERDICT_INSTRUCTION,
    parse_verdict,
    verdict_messages,
)
from plot_eval.registry import JUDGES

_RETRY_STATUS = {408, 409, 429} | set(range(500, 600))


class JudgeUnavailableError(RuntimeError):
    """The judge endpoint could not answer (unreachable, or still failing after all retries)."""


class RateLimiter:
    """At most ``per_second`` calls per second: ``wait()`` sleeps until the next slot (thread-safe)."""

    def __init__(
        self, per_second: float | None, *, clock: Callable[[], float] = time.monotonic, sleep=time.sleep
    ):
        self.interval = 1.0 / per_second if per_second else 0.0
        self.clock, self.sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self.clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self.sleep(slot - now)


class OpenAIJudge:
    """``compare(prompt, a, b)`` asks the endpoint for an MT-Bench verdict (``[[A]]``, ``[[B]]``, ``[[C]]``).

    url: base URL up to the version, e.g. ``https://api.openai.com/v1`` or ``http://127.0.0.1:8000/v1``.
    api_key_env: name of the environment variable holding the key; if it is unset no Authorization header
    is sent (local servers). timeout: seconds per request. retries: extra attempts after the first.
    rate_limit: requests per second (None = unlimited). backoff: first retry delay in seconds (doubles).
    """

    def __init__(
        self,
        url: str,
        model: str,
        api_key_env: str | None = "OPENAI_API_KEY",
        timeout: float = 60.0,
        retries: int = 3,
        rate_limit: float | None = None,
        *,
        backoff: float = 1.0,
        max_tokens: int = 512,
    ):
        self.endpoint = url.rstrip("/") + "/chat/completions"
        self.model, self.timeout, self.retries = model, timeout, retries
        self.backoff, self.max_tokens = backoff, max_tokens
        self.limiter = RateLimiter(rate_limit)
        self.session = requests.Session()
        key = os.environ.get(api_key_env) if api_key_env else None
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}

    def _post_once(self, payload: dict) -> requests.Response:
        self.limiter.wait()
        return self.session.post(self.endpoint, json=payload, headers=self.headers, timeout=self.timeout)

    def _delay(self, attempt: int, response: requests.Response | None) -> float:
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if retry_after and retry_after.replace(".", "", 1).isdigit():
            return min(float(retry_after), 60.0)
        return self.backoff * 2**attempt

    def chat(self, messages: list[dict]) -> str:
        """The assistant text of one chat completion, with retries; raises JudgeUnavailableError."""
        payload = {"model": self.model, "messages": messages, "temperature": 0, "max_tokens": self.max_tokens}
        problem = ""
        for attempt in range(self.retries + 1):
            response = None
            try:
                response = self._post_once(payload)
            except (requests.ConnectionError, requests.Timeout) as error:
                problem = f"{type(error).__name__}: {error}"
            else:
                if response.status_code == 200:
                    return response.json()["choices"][0]["message"]["content"] or ""
                problem = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code not in _RETRY_STATUS:
                    raise JudgeUnavailableError(
                        f"judge endpoint {self.endpoint} refused the request: {problem}"
                    )
            if attempt < self.retries:
                time.sleep(self._delay(attempt, response))
        raise JudgeUnavailableError(
            f"judge endpoint {self.endpoint} unreachable after {self.retries + 1} attempts: {problem}"
        )

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


@JUDGES.register("openai", settings=OpenAISettings, metrics=("winrate",))
class OpenAIVerdicts(Judge):
    """Registered pairwise judge: `OpenAIJudge` on the endpoint and model in the settings."""

    def identity(self) -> dict:
        s = self.settings
        if not s.url or not s.model:
            raise ValueError("judges.openai: needs 'url' and 'model' (the served model name)")
        return {
            "endpoint": s.url.rstrip("/"),
            "model": s.model,
            "prompt": VERDICT_INSTRUCTION,
            "format": VERDICT_FORMAT_VERSION,
            "decoding": {"temperature": 0, "max_tokens": s.max_tokens},
        }

    def compare(self, prompt: str, response_a: str, response_b: str) -> float | None:
        if not hasattr(self, "_judge"):
            s = self.settings
            self._judge = OpenAIJudge(
                s.url, s.model, s.api_key_env, s.timeout_s, s.retries, s.rate_limit, max_tokens=s.max_tokens
            )
        return self._judge.compare(prompt, response_a, response_b)
