"""Coherence of responses with a sentence-embedding model (default: all-MiniLM-L6-v2, offline).

Embeddings are the attention-masked mean of the encoder's last hidden states, L2-normalised (the
sentence-transformers recipe for this model), so a dot product is a cosine similarity in [-1, 1].
prompt_similarity = cos(e(prompt), e(response)): is the answer about the question?
sentence_coherence = mean over adjacent sentence pairs of cos(e(s_i), e(s_{i+1})): does the response stay on
one thread? None when the response has fewer than two sentences. Sentences: split after . ! ? or at newlines.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import torch
from transformers import AutoModel, AutoTokenizer

from plot_eval.registry import SCORERS

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def split_sentences(text: str) -> list[str]:
    """Non-empty sentences of ``text``, split after . ! ? followed by whitespace, or at line breaks."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


@dataclass
class CoherenceSettings:
    model: str | None = None
    """HF folder of the sentence encoder; None = all-MiniLM-L6-v2 from its wheel."""
    max_length: int = 256
    """Word pieces a text is truncated to (all-MiniLM-L6-v2 was trained with 256)."""


@SCORERS.register("coherence", settings=CoherenceSettings)
class CoherenceScorer:
    """``score(prompts, responses) -> [{"prompt_similarity", "sentence_coherence"}]`` with the encoder of the
    settings, loaded on first use."""

    batch_size = 32

    def __init__(self, settings: CoherenceSettings | None = None, context=None):
        from plot_eval.models.defaults import default_embedding_model_path

        self.settings = settings or CoherenceSettings()
        self.path = str(self.settings.model or default_embedding_model_path())

    def identity(self) -> dict:
        from plot_eval.models.fingerprint import model_fingerprint

        return {"model": model_fingerprint(self.path), "max_length": self.settings.max_length}

    @functools.cached_property
    def _encoder(self):
        model = AutoModel.from_pretrained(self.path, dtype=torch.float32).eval()
        return AutoTokenizer.from_pretrained(self.path), model

    @torch.no_grad()
    def embed(self, texts: list[str]) -> torch.Tensor:
        """Unit-norm mean-pooled embeddings ``(N, d)`` fp32 of ``texts`` (N,)."""
        tokenizer, model = self._encoder
        chunks = []
        for start in range(0, len(texts), self.batch_size):
            batch = tokenizer(
                texts[start : start + self.batch_size],
                padding=True,
                truncation=True,
                max_length=self.settings.max_length,
                return_tensors="pt",
            )
            hidden = model(**batch).last_hidden_state.float()  # (B, T, d)
            mask = batch["attention_mask"].unsqueeze(-1).float()  # (B, T, 1)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # (B, d)
            chunks.append(torch.nn.functional.normalize(pooled, dim=-1))
        return torch.cat(chunks) if chunks else torch.zeros((0, model.config.hidden_size))

    def score(self, prompts: list[str], responses: list[str]) -> list[dict]:
        """prompt_similarity (float in [-1, 1]) and sentence_coherence (float, or None if < 2 sentences)."""
        if len(prompts) != len(responses):
            raise ValueError(
                f"prompts ({len(prompts)}) and responses ({len(responses)}) must have the same length"
            )
        pair_embeddings = self.embed(list(prompts) + list(responses))
        prompt_vectors, response_vectors = pair_embeddings[: len(prompts)], pair_embeddings[len(prompts) :]
        similarities = (prompt_vectors * response_vectors).sum(-1).tolist()
        sentences = [split_sentences(text) for text in responses]
        flat = [s for group in sentences for s in group]
        sentence_vectors = self.embed(flat)
        results, offset = [], 0
        for similarity, group in zip(similarities, sentences, strict=True):
            vectors = sentence_vectors[offset : offset + len(group)]
            offset += len(group)
            adjacent = (vectors[:-1] * vectors[1:]).sum(-1)  # (len(group) - 1,)
            coherence = float(adjacent.mean()) if len(group) > 1 else None
            results.append({"prompt_similarity": float(similarity), "sentence_coherence": coherence})
        return results
