"""Fluency and coherence scores of responses, cached per (scorer identity, prompt, response).

Fluency: perplexity under a fixed scorer LM, distinct-2, repetition rate (eval.scorers.fluency).
Coherence: prompt-response and adjacent-sentence embedding similarity (eval.scorers.coherence).
Scorer models are loaded only when some score is missing from the cache.
"""

from __future__ import annotations

from typing import Any

from eval.cache import ResultCache, cache_key
from eval.model_handle import ModelPool
from eval.suite import ScoringSettings


class QualityScorer:
    """Scores (prompt, response) pairs with the scorers a suite enables; returns one merged dict each."""

    chunk_size = 32

    def __init__(self, scoring: ScoringSettings, cache: ResultCache, pool: ModelPool):
        self.scoring = scoring
        self.cache = cache
        self.pool = pool
        self._scorers: dict[str, Any] = {}

    def _scorer_path(self, kind: str):
        from eval.models import default_embedding_model_path, default_scorer_model_path

        if kind == "fluency":
            return self.scoring.scorer_model or default_scorer_model_path()
        return self.scoring.embedding_model or default_embedding_model_path()

    def _identity(self, kind: str) -> str:
        if kind == "fluency":
            return self.pool.get(self._scorer_path(kind)).fingerprint
        from eval.models import model_fingerprint

        return model_fingerprint(self._scorer_path(kind))

    def _scorer(self, kind: str):
        if kind not in self._scorers:
            if kind == "fluency":
                from eval.scorers.fluency import FluencyScorer

                self._scorers[kind] = FluencyScorer(*self.pool.get(self._scorer_path(kind)).pair)
            else:
                from eval.scorers.coherence import CoherenceScorer

                self._scorers[kind] = CoherenceScorer(model_path=str(self._scorer_path(kind)))
        return self._scorers[kind]

    def kinds(self) -> list[str]:
        return [k for k in ("fluency", "coherence") if getattr(self.scoring, k)]

    def score(self, prompts: list[str], responses: list[str]) -> list[dict[str, dict[str, float]]]:
        """Per response: {"fluency": {perplexity, distinct_2, ...}, "coherence": {...}} for enabled scorers.

        Missing scores are computed in chunks of `chunk_size` and cached after each chunk."""
        if len(prompts) != len(responses):
            raise ValueError(f"prompts ({len(prompts)}) and responses ({len(responses)}) differ in length")
        merged: list[dict[str, dict[str, float]]] = [{} for _ in prompts]
        for kind in self.kinds():
            identity = self._identity(kind)
            keys = [cache_key(kind, identity, p, r) for p, r in zip(prompts, responses, strict=True)]
            values = [self.cache.get(key, "score") for key in keys]
            missing = [i for i, value in enumerate(values) if value is None]
            for start in range(0, len(missing), self.chunk_size):
                chunk = missing[start : start + self.chunk_size]
                computed = self._scorer(kind).score(
                    [prompts[i] for i in chunk], [responses[i] for i in chunk]
                )
                for i, row in zip(chunk, computed, strict=True):
                    clean = {k: None if v is None else float(v) for k, v in row.items()}
                    self.cache.put(keys[i], "score", clean)
                    values[i] = clean
            for row, value in zip(merged, values, strict=True):
                row[kind] = value
        return merged
