"""Output heads computed from the final hidden states (the fused log-prob + PLOT head)."""
