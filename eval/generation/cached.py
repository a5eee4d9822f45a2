"""Generation through the result cache: only prompts without a cached response reach the model."""

from __future__ import annotations

from plot_eval.generation.batched import generate
from plot_eval.generation.cache import ResultCache, cache_key
from plot_eval.models.handle import ModelHandle
from plot_eval.suite import GenerationSettings


def cached_generate(
    handle: ModelHandle,
    prompts: list[list[dict]],
    settings: GenerationSettings,
    cache: ResultCache,
    *,
    progress: bool = True,
) -> list[str]:
    """Responses for chat `prompts` (in order); each new response is cached as soon as its batch ends."""
    keys = [cache_key("generation", handle.fingerprint, p, settings.cache_settings()) for p in prompts]
    responses: list[str | None] = [cache.get(key, "generation") for key in keys]
    missing = [i for i, text in enumerate(responses) if text is None]
    if not missing:
        return responses  # type: ignore[return-value]

    def store(position: int, text: str) -> None:
        index = missing[position]
        cache.put(keys[index], "generation", text)
        responses[index] = text

    model, tokenizer = handle.pair
    generate(
        model,
        tokenizer,
        [prompts[i] for i in missing],
        max_new_tokens=settings.max_new_tokens,
        batch_size=settings.batch_size,
        do_sample=settings.do_sample,
        temperature=settings.temperature,
        top_p=settings.top_p,
        seed=settings.seed,
        progress=progress,
        progress_label=handle.role,
        on_result=store,
    )
    return responses  # type: ignore[return-value]


class LocalModel:
    """A side of the comparison loaded here (a folder or an in-memory pair): generates through the cache.

    The runner treats every side alike (`check`, `respond`, `describe`); `pair` and `fingerprint` also serve
    the lm-eval stage, which only a model loaded here can run (`lm_eval_skip_reason` is None).
    """

    lm_eval_skip_reason = None

    def __init__(self, handle: ModelHandle):
        self.handle = handle
        self.role, self.fingerprint = handle.role, handle.fingerprint

    @property
    def pair(self):
        return self.handle.pair

    def describe(self) -> dict[str, str]:
        return self.handle.describe()

    def check(self, ids: list[str], known: list[str] | None = None) -> None:
        """Nothing to check: every prompt is generated."""

    def respond(self, ids, prompts, settings: GenerationSettings, cache: ResultCache, *, progress=True):
        return cached_generate(self.handle, prompts, settings, cache, progress=progress)
