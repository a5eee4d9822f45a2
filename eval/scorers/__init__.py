"""Per-response quality scores: fluency (scorer-LM perplexity, distinct-2, repetition) and coherence."""

from eval.scorers.coherence import CoherenceScorer
from eval.scorers.fluency import FluencyScorer

__all__ = ["CoherenceScorer", "FluencyScorer"]
