"""One HTTP client for OpenAI-compatible chat endpoints (OpenAI, vLLM, TGI, llama.cpp server, ...).

``POST {url}/chat/completions`` with ``{"model", "messages", **decoding}``; the API key comes from the
environment variable named by ``api_key_env``, never from code or config. Connection errors, timeouts,
408/409/429 and 5xx are retried with exponential backoff (honouring Retry-After, both capped at 60 s); other
4xx fail at once. A client-side rate limit is shared by all threads. Every failure names the endpoint URL."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import requests

RETRY_STATUS = {408, 409, 429} | set(range(500, 600))
MAX_DELAY_S = 60.0


class EndpointUnavailableError(RuntimeError):
    """The endpoint could not answer (unreachable, refused, or still failing after all retries)."""


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


class ChatClient:
    """``complete(messages, **decoding) -> str``: the assistant text of one chat completion.

    url: base URL up to the version, e.g. ``https://api.openai.com/v1`` or ``http://127.0.0.1:8000/v1``.
    api_key_env: name of the environment variable holding the key; if it is unset no Authorization header
    is sent (local servers). timeout: seconds per request. retries: extra attempts after the first.
    rate_limit: requests per second (None = unlimited). backoff: first retry delay in seconds (doubles).
    role: who the endpoint serves, named in errors ("judge", "model", "baseline").
    """

    error_type: type[EndpointUnavailableError] = EndpointUnavailableError

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
        role: str = "model",
    ):
        self.endpoint = url.rstrip("/") + "/chat/completions"
        self.model, self.timeout, self.retries = model, timeout, retries
        self.backoff, self.role = backoff, role
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
            return min(float(retry_after), MAX_DELAY_S)
        return min(self.backoff * 2**attempt, MAX_DELAY_S)

    def _text(self, response: requests.Response) -> str:
        try:
            content = response.json()["choices"][0]["message"]["content"]
            if content is not None and not isinstance(content, str):
                raise TypeError(f"message content is a {type(content).__name__}, not text")
        except (ValueError, KeyError, IndexError, TypeError) as err:
            raise self.error_type(
                f"{self.role} endpoint {self.endpoint}: reply is not a chat completion "
                f"({type(err).__name__}: {err}): {response.text[:200]}"
            ) from err
        return content or ""

    def complete(self, messages: list[dict], **decoding) -> str:
        """The assistant text for ``messages`` (decoding: temperature, max_tokens, seed, ...), with retries."""
        payload = {"model": self.model, "messages": messages, **decoding}
        problem = ""
        for attempt in range(self.retries + 1):
            response = None
            try:
                response = self._post_once(payload)
            except (requests.ConnectionError, requests.Timeout) as error:
                problem = f"{type(error).__name__}: {error}"
            else:
                if response.status_code == 200:
                    return self._text(response)
                problem = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code not in RETRY_STATUS:
                    raise self.error_type(
                        f"{self.role} endpoint {self.endpoint} refused the request: {problem}"
                    )
            if attempt < self.retries:
                time.sleep(self._delay(attempt, response))
        raise self.error_type(
            f"{self.role} endpoint {self.endpoint} unreachable after {self.retries + 1} attempts: {problem}"
        )
