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
