"""Per-response quality scores: fluency (scorer-LM perplexity, distinct-2, repetition) and coherence."""

from plot_eval.scorers.coherence import CoherenceScorer
from plot_eval.scorers.fluency import FluencyScorer

__all__ = ["CoherenceScorer", "FluencyScorer"]
