"""A side of the comparison loaded here (a folder or an in-memory pair), generating through the result cache:
only prompts without a cached response reach the model."""

from __future__ import annotations

import dataclasses

from plot_eval.generation.batched import generate
from plot_eval.generation.cache import ResultCache, cache_key
from plot_eval.models.handle import ModelHandle
from plot_eval.suite import GenerationSettings


class LocalModel(ModelHandle):
    """A `ModelHandle` that the runner treats like every side (`check`, `respond`, `describe`); its `pair` and
    `fingerprint` also serve the lm-eval stage, which only a model loaded here can run."""

    lm_eval_skip_reason = None

    def check(self, ids: list[str], known: list[str] | None = None) -> None:
        """Nothing to check: every prompt is generated."""

    def respond(
        self, ids, prompts, settings: GenerationSettings, cache: ResultCache, *, progress=True
    ) -> list[str]:
        """Responses for chat `prompts` (in order); each new response is cached as soon as its batch ends."""
        keys = [cache_key("generation", self.fingerprint, p, settings.cache_settings()) for p in prompts]
        responses, missing = cache.lookup(keys, "generation")

        def store(position: int, text: str) -> None:
            index = missing[position]
            cache.put(keys[index], "generation", text)
            responses[index] = text

        if missing:
            batch = [prompts[i] for i in missing]
            options = dataclasses.asdict(settings)  # max_new_tokens, batch_size, do_sample, ... of `generate`
            generate(
                *self.pair, batch, **options, progress=progress, progress_label=self.role, on_result=store
            )
        return responses
