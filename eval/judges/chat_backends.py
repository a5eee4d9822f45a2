"""Text-generating backends of the rubric judges, `chat(messages) -> str`, chosen by `kind` in their settings:
`openai` (the `openai` judge's settings and client) or `local` (a local causal LM, greedy). A backend's
`identity()` goes into the rubric judge's cache keys."""

from __future__ import annotations

from dataclasses import dataclass

from plot_eval.judges.base import ScorerLMSettings
from plot_eval.judges.openai_compat import NEEDS_ENDPOINT, OpenAISettings
from plot_eval.registry import Registry, build_settings

BACKENDS = Registry("judge backend", ("plot_eval.judges.chat_backends",))


@dataclass
class OpenAIBackendSettings(OpenAISettings):
    """The `openai` judge's settings, with `url` and `model` required when the suite is read."""

    def validate(self) -> None:
        if not self.url or not self.model:
            raise ValueError(NEEDS_ENDPOINT)


@BACKENDS.register("openai", settings=OpenAIBackendSettings)
class OpenAIBackend:
    def __init__(self, settings: OpenAIBackendSettings, context):
        self.settings = settings
        self.client = settings.client()

    def identity(self) -> dict:
        s = self.settings
        return {"endpoint": s.url.rstrip("/"), "model": s.model, "temperature": 0, "max_tokens": s.max_tokens}

    def chat(self, messages: list[dict]) -> str:
        return self.client.chat(messages)


@dataclass
class LocalBackendSettings(ScorerLMSettings):
    max_new_tokens: int = 256


@BACKENDS.register("local", settings=LocalBackendSettings)
class LocalBackend:
    def __init__(self, settings: LocalBackendSettings, context):
        self.settings = settings
        self.handle = context.lm(settings.model)

    def identity(self) -> dict:
        return {
            "model": self.handle.fingerprint,
            "greedy": True,
            "max_new_tokens": self.settings.max_new_tokens,
        }

    def chat(self, messages: list[dict]) -> str:
        from plot_eval.generation.batched import generate

        model, tokenizer = self.handle.pair
        return generate(
            model, tokenizer, [messages], max_new_tokens=self.settings.max_new_tokens, progress=False
        )[0]


def build_backend(raw: dict, context, where: str):
    """A backend from `{kind: openai|local, ...its settings}`."""
    if not isinstance(raw, dict) or "kind" not in raw:
        raise ValueError(f"{where}: needs 'kind' (one of {BACKENDS.names()})")
    options = {k: v for k, v in raw.items() if k != "kind"}
    entry = BACKENDS.get(raw["kind"])
    return entry.component(build_settings(entry.settings, options, f"{where}.{raw['kind']}"), context)
