"""Fluency, coherence or any registered scorer of responses, cached per (scorer identity, prompt, response).

The scorers run are those listed under `scorers` in the suite (eval/registry.py SCORERS); each is built
from its settings, and its model loads only when some score is missing from the cache.
"""

from __future__ import annotations

from typing import Any

from plot_eval.generation.cache import ResultCache, cache_key
from plot_eval.progress import Progress
from plot_eval.registry import SCORERS


class QualityScorer:
    """Scores (prompt, response) pairs with the suite's scorers; returns one merged dict per response."""

    chunk_size = 32

    def __init__(self, scorers: dict[str, Any], cache: ResultCache, context, *, progress: bool = False):
        self.cache, self.progress = cache, progress
        self._scorers = {name: SCORERS.get(name).component(s, context) for name, s in scorers.items()}
        self._ids: dict[str, Any] = {}

    def _identity(self, name: str) -> Any:
        if name not in self._ids:
            self._ids[name] = [name, self._scorers[name].identity()]
        return self._ids[name]

    def score(
        self, prompts: list[str], responses: list[str], label: str = ""
    ) -> list[dict[str, dict[str, float]]]:
        """Per response: {"fluency": {perplexity, distinct_2, ...}, "coherence": {...}} for the suite's scorers.

        Missing scores are computed in chunks of `chunk_size` and cached after each chunk; `label` (e.g. the
        role) names them in the progress output."""
        if len(prompts) != len(responses):
            raise ValueError(f"prompts ({len(prompts)}) and responses ({len(responses)}) differ in length")
        merged: list[dict[str, dict[str, float]]] = [{} for _ in prompts]
        for name, scorer in self._scorers.items():
            identity = self._identity(name)
            keys = [cache_key("score", identity, p, r) for p, r in zip(prompts, responses, strict=True)]
            values, missing = self.cache.lookup(keys, "score")
            bar = Progress("score", len(values), f"{name} {label}".strip(), enabled=self.progress)
            bar.update(len(values) - len(missing))  # cached: done already
            for start in range(0, len(missing), self.chunk_size):
                chunk = missing[start : start + self.chunk_size]
                computed = scorer.score([prompts[i] for i in chunk], [responses[i] for i in chunk])
                for i, row in zip(chunk, computed, strict=True):
                    clean = {k: None if v is None else float(v) for k, v in row.items()}
                    self.cache.put(keys[i], "score", clean)
                    values[i] = clean
                bar.update(len(chunk))
            bar.close()
            for row, value in zip(merged, values, strict=True):
                row[name] = value
        return merged
