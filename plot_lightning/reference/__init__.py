"""The frozen reference: a copy of the initial policy, the policy with LoRA adapters disabled, or log-probs
precomputed once over the dataset and cached on disk (``precompute.py`` writes, ``cache.py`` reads)."""
